// WiFi.h (ESP32 Arduino core) of the host harness.
#pragma once
#include "harness_wifi.h"
