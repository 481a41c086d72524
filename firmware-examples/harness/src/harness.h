// The harness's own entry points, for main.cpp; not an Arduino API.
#pragma once

namespace harness {
// note prints "harness: ..." on a line of its own on stdout.
void note(const char *format, ...) __attribute__((format(printf, 1, 2)));
} // namespace harness

// harness_main runs a sketch: setup() once, then loop() until a signal,
// HARNESS_EXIT_ON or HARNESS_TIMEOUT_MS ends the run.
int harness_main(const char *board, void (*setup)(), void (*loop)());

// harnessPollClients waits up to timeoutMs for data on a connected
// PubSubClient's socket.
int harnessPollClients(int timeoutMs);
