/*
 * cmd_preprocess.c — `aesthete preprocess`: the model's input for one image, written as raw
 * little-endian bytes: the normalised float32 CHW tensor, or with --rgb the uint8 HWC crop
 * (the resized and centre-cropped image before rescaling).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void help(void)
{
    printf("usage: aesthete preprocess [OPTIONS] IMAGE -o FILE\n\n"
           "Writes the preprocessed image as raw bytes: float32 little-endian [3, H, W] (CHW),\n"
           "or with --rgb uint8 [H, W, 3] (HWC). H, W: the model's crop size.\n\n"
           "  -m, --model M     model directory or Hugging Face repo id (default: $AESTHETE_MODEL or %s)\n"
           "  -o, --output FILE where to write ('-' for stdout; required)\n"
           "  --rgb             write the uint8 crop instead of the normalised tensor\n"
           "  --no-exif-rotate  ignore EXIF orientation (bit-exact with transformers)\n"
           "  --max-pixels N    refuse images larger than N pixels (default: 100e6)\n"
           "  -h, --help        this text\n\n"
           "Exit status: 0 written, 1 the image failed, 2 usage or model error.\n",
           DEFAULT_MODEL);
}

int cmd_preprocess(int argc, char **argv)
{
    enum { OPT_RGB = OPT_COMMAND };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},  {"output", required_argument, 0, 'o'},
        {"rgb", no_argument, 0, OPT_RGB},          {"no-exif-rotate", no_argument, 0, OPT_NO_EXIF_ROTATE},
        {"max-pixels", required_argument, 0, OPT_MAX_PIXELS}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *model = NULL, *out = NULL;
    int rgb = 0, c;
    long maxpix;
    ae_image_params ip = ae_image_default_params();
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'o': out = optarg; break;
        case OPT_RGB: rgb = 1; break;
        case OPT_NO_EXIF_ROTATE: ip.exif_rotate = 0; break;
        case OPT_MAX_PIXELS:
            if (cli_parse_int("preprocess", "--max-pixels", optarg, 1, 1L << 40, &maxpix)) return EXIT_USAGE;
            ip.max_pixels = (uint64_t)maxpix;
            break;
        case 'h': help(); return EXIT_ALL_OK;
        default: return cli_bad_option("preprocess", c, argc, argv);
        }
    }
    if (argc - optind != 1) return cli_usage_error("preprocess", "expected exactly one IMAGE");
    if (!out) return cli_usage_error("preprocess", "missing -o FILE");
    const char *path = argv[optind];
    /* pixels only, no encoder runs: $AESTHETE_PRECISION does not apply */
    ae_model *m = cli_load_model(model, 0, 1, AE_PRECISION_FP32, AE_PRECISION_FP32);
    if (!m) return EXIT_USAGE;
    ae_model_info info;
    ae_model_get_info(m, &info);
    size_t npix = (size_t)info.crop_height * (size_t)info.crop_width;
    float *pixels = malloc(sizeof(float) * 3 * npix);
    uint8_t *crop = malloc(3 * npix);
    ae_image img = {0};
    int ret = EXIT_SOME_FAILED;
    int rc = pixels && crop ? ae_image_load(path, &ip, &img) : AE_ERR_NOMEM;
    if (rc == AE_OK) rc = ae_preprocess(m, &img, pixels, crop);
    if (rc != AE_OK) {
        cli_error("%s", ae_last_error()[0] ? ae_last_error() : ae_strerror(rc));
    } else {
        int to_stdout = !strcmp(out, "-");
        FILE *f = to_stdout ? stdout : fopen(out, "wb");
        const void *data = rgb ? (const void *)crop : (const void *)pixels;
        size_t bytes = rgb ? 3 * npix : sizeof(float) * 3 * npix;
        /* float32 little-endian: the host order on every platform we build for */
        int ok = f && fwrite(data, 1, bytes, f) == bytes;
        if (f && (to_stdout ? fflush(f) : fclose(f)) != 0) ok = 0; /* closed on every path */
        if (!ok) {
            cli_error("%s: cannot write: %s", out, strerror(errno));
            ret = EXIT_USAGE;
        } else {
            ret = EXIT_ALL_OK;
        }
    }
    ae_image_free(&img);
    free(pixels);
    free(crop);
    ae_model_free(m);
    return ret;
}
