#!/usr/bin/env python3
# make_seeds.py — writes the hand-made seeds of fuzz/corpus/pth (python3 standard library
# only; run from the repository root): torch.save-style zip checkpoints and safetensors files
# of small linear-layer stacks (LAION's "layers.<i>.weight" naming), built opcode by opcode,
# since neither torch nor numpy is needed to say what they hold. The first byte of each seed
# is fuzz_pth.c's selector (file name and ReLU choice).
import io, json, os, struct, sys, zipfile

def pkl_str(s):
    b = s.encode()
    return b'X' + struct.pack('<I', len(b)) + b

def pkl_int(i):
    return b'K' + bytes([i]) if i < 256 else b'M' + struct.pack('<H', i)

def torch_zip(layers, root='archive', version=b'3\n', byteorder=b'little', compress=zipfile.ZIP_STORED):
    """layers: list of (name, shape, floats): an OrderedDict of float32 tensors."""
    p = b'\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01('
    blobs = []
    for k, (name, shape, vals) in enumerate(layers):
        stride = [1] * len(shape)
        for d in range(len(shape) - 2, -1, -1):
            stride[d] = stride[d + 1] * shape[d + 1]
        tup = lambda xs: b'(' + b''.join(pkl_int(x) for x in xs) + b't'
        p += pkl_str(name) + b'ctorch._utils\n_rebuild_tensor_v2\n('
        p += b'(' + pkl_str('storage') + b'ctorch\nFloatStorage\n' + pkl_str(str(k)) + pkl_str('cpu') + pkl_int(len(vals)) + b'tQ'
        p += pkl_int(0) + tup(shape) + tup(stride) + b'\x89ccollections\nOrderedDict\n)RtR'
        blobs.append((str(k), struct.pack('<%df' % len(vals), *vals)))
    p += b'u.'
    b = io.BytesIO()
    with zipfile.ZipFile(b, 'w', compress) as z:
        z.writestr(f'{root}/data.pkl', p)
        if byteorder is not None: z.writestr(f'{root}/byteorder', byteorder)
        for key, data in blobs: z.writestr(f'{root}/data/{key}', data)
        if version is not None: z.writestr(f'{root}/version', version)
    return b.getvalue()

def safetensors(tensors, meta=None, dtype='F32'):
    h, data = {}, b''
    for name, shape, vals in tensors:
        raw = struct.pack('<%df' % len(vals), *vals)
        h[name] = {'dtype': dtype, 'shape': shape, 'data_offsets': [len(data), len(data) + len(raw)]}
        data += raw
    if meta: h['__metadata__'] = meta
    j = json.dumps(h).encode()
    return struct.pack('<Q', len(j)) + j + data

def vals(n, s=0.25):
    return [((i % 7) - 3) * s for i in range(n)]

def mlp(idx, dims):
    out = []
    for k, i in enumerate(idx):
        out.append((f'layers.{i}.weight', [dims[k + 1], dims[k]], vals(dims[k + 1] * dims[k])))
        out.append((f'layers.{i}.bias', [dims[k + 1]], vals(dims[k + 1], 0.5)))
    return out

d = sys.argv[1] if len(sys.argv) > 1 else 'fuzz/corpus/pth'
os.makedirs(d, exist_ok=True)
def put(name, sel, data):
    open(f'{d}/{name}', 'wb').write(bytes([sel]) + data)
# selector: & 3 picks .pth .pt .bin .safetensors; >> 2 & 3: 0 no ReLU, 1 ReLU, 3 guess
GUESS = 3 << 2
put('linear-mse-5.pth', 0 | GUESS, torch_zip(mlp([0, 2, 4, 6, 7], [4, 6, 5, 4, 3, 1])))
put('relu-mse-5.pt', 1 | GUESS, torch_zip(mlp([0, 3, 6, 9, 11], [4, 6, 5, 4, 3, 1])))
put('single-weight.bin', 2, torch_zip([('weight', [1, 4], vals(4)), ('bias', [1], [0.5])]))
put('two-layers-relu.pth', 0 | 1 << 2, torch_zip(mlp([0, 1], [3, 2, 1]), compress=zipfile.ZIP_DEFLATED))
put('dotdata-version.pth', 0, torch_zip(mlp([0], [4, 1]), root='m', version=None, byteorder=None))
put('big-endian.pth', 0, torch_zip(mlp([0], [4, 1]), byteorder=b'big'))
put('linear-mse-5.safetensors', 3 | GUESS, safetensors(mlp([0, 2, 4, 6, 7], [4, 6, 5, 4, 3, 1]), {'source': 'laion', 'license': 'MIT'}))
put('weight-only.safetensors', 3, safetensors([('weight', [1, 4], vals(4))]))
put('stray-tensor.safetensors', 3, safetensors(mlp([0], [4, 1]) + [('step', [1], [3.0])]))
put('mismatch.safetensors', 3, safetensors([('layers.0.weight', [2, 4], vals(8)), ('layers.1.weight', [1, 3], vals(3))]))
