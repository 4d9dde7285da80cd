/*
 * consumer.c — a C program of a user of the installed libaesthete, built by test_install.sh
 * with nothing but `pkg-config --cflags --libs aesthete`: the version, a precision parsed,
 * an image decoded (a GIF: the static link needs giflib, Libs.private), the tiny fixture
 * model loaded and one text embedded, compared with its golden embedding.
 * Usage: consumer MODEL_DIR TEXT_EMBEDS.f32 IMAGE (row 0: "a outstanding picture, of a #tench")
 */
#include <aesthete.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: consumer MODEL_DIR TEXT_EMBEDS.f32 IMAGE\n");
        return 2;
    }
    printf("version %s\n", AE_VERSION);
    int p = ae_precision_parse("int8");
    printf("precision int8 -> %d %s\n", p, ae_precision_name((ae_precision)p));
    printf("precision fp64 -> %d\n", ae_precision_parse("fp64"));

    ae_image img;
    ae_image_params ip = ae_image_default_params();
    if (ae_image_load(argv[3], &ip, &img) != AE_OK) {
        fprintf(stderr, "consumer: %s\n", ae_last_error());
        return 1;
    }
    printf("image %dx%d\n", img.width, img.height);
    ae_image_free(&img);

    ae_model *m = NULL;
    ae_model_params mp = ae_model_default_params();
    int rc = ae_model_load("/nonexistent/model", &mp, &m);
    printf("missing model -> %s: %s\n", ae_strerror(rc), ae_last_error());

    mp.load_vision = 0;
    if (ae_model_load(argv[1], &mp, &m) != AE_OK) {
        fprintf(stderr, "consumer: %s\n", ae_last_error());
        return 1;
    }
    int dim = ae_model_embed_dim(m);
    ae_session *s = NULL;
    ae_session_params sp = ae_session_default_params();
    sp.n_threads = 1;
    float *emb = malloc((size_t)dim * sizeof *emb), *ref = malloc((size_t)dim * sizeof *ref);
    const char *texts[] = {"a outstanding picture, of a #tench"};
    FILE *f = fopen(argv[2], "rb");
    if (!emb || !ref || !f || fread(ref, sizeof *ref, (size_t)dim, f) != (size_t)dim) {
        fprintf(stderr, "consumer: %s: cannot read %d floats\n", argv[2], dim);
        return 1;
    }
    fclose(f);
    if (ae_session_new(m, &sp, &s) != AE_OK || ae_encode_texts(s, texts, 1, emb) != AE_OK) {
        fprintf(stderr, "consumer: %s\n", ae_last_error());
        return 1;
    }
    double maxdiff = 0;
    for (int i = 0; i < dim; i++) {
        double d = (double)emb[i] - ref[i];
        if (d < 0) d = -d;
        if (d > maxdiff) maxdiff = d;
    }
    printf("text embedding: dim %d, %s the golden one (max difference %s 1e-5)\n", dim,
           maxdiff < 1e-5 ? "equals" : "differs from", maxdiff < 1e-5 ? "<" : ">=");
    free(emb);
    free(ref);
    ae_session_free(s);
    ae_model_free(m);
    return 0;
}
