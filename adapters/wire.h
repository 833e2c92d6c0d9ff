/* wire.h - what the built-in adapters share: the adapter API and a few conventions, nothing of the core. */
#ifndef ULM_ADAPTERS_WIRE_H
#define ULM_ADAPTERS_WIRE_H

#include <limits.h>

#include "ultrallm/provider.h"

/* Helpers shared between the adapters stay inside the library. */
#ifndef ULM_HIDDEN
#define ULM_HIDDEN __attribute__((visibility("hidden")))
#endif

/* a + b for token counts (both >= 0), held at LONG_MAX: a backend may send any number,
 * and a sum past LONG_MAX would be undefined. */
static inline long ulm__wire_count_sum(long a, long b)
{
    return a > LONG_MAX - b ? LONG_MAX : a + b;
}

#endif /* ULM_ADAPTERS_WIRE_H */
