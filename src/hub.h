/*
 * hub.h — finding a model in the local Hugging Face cache (read-only, no network).
 */
#ifndef AE_HUB_H
#define AE_HUB_H

#include <stddef.h>

/* See ae_model_resolve in aesthete.h. */
int hub_resolve(const char *spec, char *dir, size_t cap);

/* Splits a repo id "org/name[@revision]" (revision "main" when absent) into its parts, each
 * 1..96 bytes of [A-Za-z0-9._-], not "." and without ".." (so no part can leave the cache
 * folder). 1 when spec has that form, else 0. Shared with the downloader (app/hubdl.c). */
#define HUB_PART_CAP 97
int hub_split_spec(const char *spec, char org[HUB_PART_CAP], char name[HUB_PART_CAP],
                   char rev[HUB_PART_CAP]);

#endif
