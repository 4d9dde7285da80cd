/*
 * fuzz_head.c — libFuzzer target for the head and prompt-bank files aesthete writes
 * (ae_head_load, src/head.c, safetensors underneath): the input is written as a .safetensors
 * file in a private folder and loaded. What loads must keep its promises: a known kind and
 * method, a dimension >= 1, class names for the prompt methods that have them, strings
 * NUL-terminated; saved again (ae_head_save) it loads back with the same description. A
 * refusal leaves NULL with a message. Built by -DAE_FUZZ=ON (fuzz/run.sh); seeds: small
 * linear, MLP, LAION and prompt-bank files written by aesthete, damaged metadata.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aesthete.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_str(const char *a, const char *b) { return a && b && !strcmp(a, b); }

static void check_info(const ae_head_info *i)
{
    if ((unsigned)i->kind > AE_HEAD_MLP || i->dim < 1 || i->n_classes < 0 || i->n_layers < 0) abort();
    const char *s[] = {i->name, i->template_text, i->positive, i->negative, i->model_id,
                       i->fingerprint, i->laion_head, i->precision, i->provenance, i->license};
    for (size_t k = 0; k < sizeof s / sizeof *s; k++)
        if (!s[k]) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_path("head.safetensors"), *again = fuzz_path("again.safetensors");
    fuzz_write(path, data, size);
    ae_head *h = (ae_head *)data;
    if (ae_head_load(path, &h) != AE_OK) {
        if (h || !ae_last_error()[0]) abort();
        return 0;
    }
    ae_head_info a, b;
    ae_head_get_info(h, &a);
    check_info(&a);
    for (int32_t k = 0; k < a.n_classes; k++)
        if (!ae_head_class(h, k)) abort();
    if (ae_head_class(h, a.n_classes)) abort();
    /* what was read is written again and read back the same */
    ae_head *h2 = NULL;
    if (ae_head_save(h, again) != AE_OK || ae_head_load(again, &h2) != AE_OK) abort();
    ae_head_get_info(h2, &b);
    if (a.kind != b.kind || a.method != b.method || a.dim != b.dim || a.n_classes != b.n_classes ||
        a.n_layers != b.n_layers || a.normalize_prompts != b.normalize_prompts || a.normalize != b.normalize ||
        a.logistic != b.logistic || !(a.cut == b.cut || (isnan(a.cut) && isnan(b.cut))) || !same_str(a.name, b.name) ||
        !same_str(a.template_text, b.template_text) || !same_str(a.positive, b.positive) ||
        !same_str(a.negative, b.negative) || !same_str(a.model_id, b.model_id) ||
        !same_str(a.fingerprint, b.fingerprint) || !same_str(a.laion_head, b.laion_head) ||
        !same_str(a.precision, b.precision) || !same_str(a.provenance, b.provenance) ||
        !same_str(a.license, b.license))
        abort();
    for (int32_t k = 0; k < a.n_classes; k++)
        if (!same_str(ae_head_class(h, k), ae_head_class(h2, k))) abort();
    ae_head_free(h2);
    ae_head_free(h);
    return 0;
}
