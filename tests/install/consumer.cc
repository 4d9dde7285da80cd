// consumer.cc — a C++ program of a user of the installed libaesthete (the header's extern "C"
// guards), built by test_install.sh with nothing but `pkg-config --cflags --libs aesthete`:
// the tiny fixture model's text embeddings of two prompts, through RAII owners, and their
// cosine against the golden embeddings' (rows 0 and 1 of TEXT_EMBEDS.f32).
// Usage: consumer_cc MODEL_DIR TEXT_EMBEDS.f32
#include <aesthete.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace {
struct model_free { void operator()(ae_model *m) const { ae_model_free(m); } };
struct session_free { void operator()(ae_session *s) const { ae_session_free(s); } };

double cosine(const float *a, const float *b, int n)
{
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
    return ab / std::sqrt(aa * bb);
}
} // namespace

int main(int argc, char **argv)
{
    if (argc != 3) { std::fprintf(stderr, "usage: consumer_cc MODEL_DIR TEXT_EMBEDS.f32\n"); return 2; }
    std::printf("version %s\n", AE_VERSION);
    ae_model_params mp = ae_model_default_params();
    mp.load_vision = 0;
    ae_model *raw = nullptr;
    if (ae_model_load(argv[1], &mp, &raw) != AE_OK) { std::fprintf(stderr, "consumer_cc: %s\n", ae_last_error()); return 1; }
    std::unique_ptr<ae_model, model_free> model(raw);
    const int dim = ae_model_embed_dim(model.get());
    ae_session_params sp = ae_session_default_params();
    ae_session *sraw = nullptr;
    if (ae_session_new(model.get(), &sp, &sraw) != AE_OK) { std::fprintf(stderr, "consumer_cc: %s\n", ae_last_error()); return 1; }
    std::unique_ptr<ae_session, session_free> session(sraw);

    const std::string prompts[] = {"a outstanding picture, of a #tench", "a horrible picture, of a #tench"};
    const char *texts[] = {prompts[0].c_str(), prompts[1].c_str()};
    std::vector<float> emb(2 * static_cast<size_t>(dim)), ref(emb.size());
    if (ae_encode_texts(session.get(), texts, 2, emb.data()) != AE_OK) { std::fprintf(stderr, "consumer_cc: %s\n", ae_last_error()); return 1; }
    std::ifstream in(argv[2], std::ios::binary);
    if (!in.read(reinterpret_cast<char *>(ref.data()), static_cast<std::streamsize>(ref.size() * sizeof(float)))) {
        std::fprintf(stderr, "consumer_cc: %s: cannot read %zu floats\n", argv[2], ref.size());
        return 1;
    }
    for (int r = 0; r < 2; r++)
        std::printf("prompt %d: cosine to the golden embedding %s 0.99999\n", r,
                    cosine(&emb[r * dim], &ref[r * dim], dim) > 0.99999 ? ">" : "<=");
    return 0;
}
