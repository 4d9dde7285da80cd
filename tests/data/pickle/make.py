# Regenerates the small inputs of tests/test_pickle.c (torch 1.13, numpy 1.24; run from this folder).
# Values are exact in float16, so the test computes what every file must hold.
import collections, pickle
import numpy as np
import torch

base = ((torch.arange(12, dtype=torch.float64) - 6) / 8).reshape(3, 4)  # exact in float16
sd = collections.OrderedDict()
sd["f32"] = base.float()
sd["f16"] = base.half()
sd["bf16"] = base.bfloat16()
sd["f64"] = base.clone()
sd["t"] = base.float().t()                       # non-contiguous: strides (1, 4)
sd["row"] = sd["f32"][1]                         # shares f32's storage at offset 4
sd["scalar"] = torch.tensor(2.5)
sd["empty"] = torch.zeros(0, 3)
sd["param"] = torch.nn.Parameter(torch.ones(2))  # _rebuild_parameter
torch.save(sd, "mixed.pth")
torch.save({"state_dict": {"enc": {"w": base[:2].float()}}, "epoch": 7, "lr": 0.5,
            "name": "tiny"}, "nested.pth")
torch.save({"ids": torch.arange(3)}, "long.pth")
torch.save({"w": torch.ones(2)}, "legacy.pth", _use_new_zipfile_serialization=False)

a = (np.arange(12, dtype=np.float64).reshape(3, 4) - 6) / 8
for proto in range(6):
    with open(f"np-f4-p{proto}.pkl", "wb") as f:
        pickle.dump(a.astype(np.float32), f, protocol=proto)
with open("np-f2-p4.pkl", "wb") as f:
    pickle.dump(a.astype(np.float16), f, protocol=4)
with open("np-f8be-p2.pkl", "wb") as f:
    pickle.dump(a.astype(">f8"), f, protocol=2)
with open("np-fortran-p2.pkl", "wb") as f:
    pickle.dump(np.asfortranarray(a.astype(np.float32)), f, protocol=2)
with open("np-fortran-p5.pkl", "wb") as f:
    pickle.dump(np.asfortranarray(a.astype(np.float32)), f, protocol=5)
with open("np-i8-p4.pkl", "wb") as f:
    pickle.dump(np.arange(3), f, protocol=4)
