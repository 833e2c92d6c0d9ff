/* builtin.h - the adapters compiled into the library, as the core's table of backend kinds sees them. */
#ifndef ULM_ADAPTERS_BUILTIN_H
#define ULM_ADAPTERS_BUILTIN_H

#include "wire.h"

ULM_HIDDEN int ulm__openai_provider_new(ulm_provider **out);
ULM_HIDDEN int ulm__dmr_provider_new(ulm_provider **out);
ULM_HIDDEN int ulm__anthropic_provider_new(ulm_provider **out);
ULM_HIDDEN int ulm__gemini_provider_new(ulm_provider **out);

/* DMR's canonical model name: ai/ namespace, :latest tag, lower-cased name. */
ULM_HIDDEN int ulm__dmr_normalize_model(const char *name, char *buf, size_t buf_size);

#endif /* ULM_ADAPTERS_BUILTIN_H */
