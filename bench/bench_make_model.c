/*
 * bench_make_model.c — writes the full-size random ViT-B/32 of the fixtures' recipe
 * (fixtures/models/b32-recipe/RECIPE.md) as a Hugging Face model folder, checked tensor by
 * tensor against the recipe's sha256s, for the benchmarks that run the CLI.
 *
 *     bench_make_model DIR
 */
#include <stdio.h>
#include <sys/stat.h>

#include "b32_recipe.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bench_make_model DIR\n");
        return 2;
    }
    mkdir(argv[1], 0755);
    int rc = b32_recipe_write(argv[1]);
    if (rc != 0) {
        fprintf(stderr, "bench_make_model: %s: %s\n", argv[1], rc < 0 ? "failed" : "tensor sha256 mismatch");
        return 1;
    }
    printf("%s\n", argv[1]);
    return 0;
}
