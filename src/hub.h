/*
 * hub.h — finding a model in the local Hugging Face cache (read-only, no network).
 */
#ifndef AE_HUB_H
#define AE_HUB_H

#include <stddef.h>

/* See ae_model_resolve in aesthete.h. */
int hub_resolve(const char *spec, char *dir, size_t cap);

#endif
