// main.cpp of the host harness: the sketch (SKETCH, a file name given with
// -DSKETCH='"name.ino"') is included as it is, after Arduino.h, as the
// Arduino build does; main() runs it. The Arduino build also writes
// prototypes for the sketch's functions: the examples define each function
// before its first use, so they need none.
#include <Arduino.h>

#include SKETCH

#include "harness.h"

#ifndef HARNESS_BOARD
#define HARNESS_BOARD "unknown"
#endif

// The harness's own allocations live until exit; leaks are not what it
// looks for (memory errors are, with -fsanitize=address).
extern "C" const char *__asan_default_options() { return "detect_leaks=0"; }

int main() { return harness_main(HARNESS_BOARD, setup, loop); }
