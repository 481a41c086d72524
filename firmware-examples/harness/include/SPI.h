// SPI.h of the host harness: nothing to drive.
#pragma once
#include <Arduino.h>

class SPIClass {
public:
  void begin() {}
};
extern SPIClass SPI;
