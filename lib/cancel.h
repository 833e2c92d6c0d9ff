/* cancel.h - what the core reads of a cancellation token. */
#ifndef ULM_CANCEL_H
#define ULM_CANCEL_H

#include "alloc.h"

/* A descriptor that becomes readable once the token is triggered, for an engine's wait. */
ULM_HIDDEN int ulm__cancel_fd(const ulm_cancel *cancel);

#endif /* ULM_CANCEL_H */
