"""Writes .h5 files the way h5py writes them (and .npy files the way NumPy
does) for internal/ndarray's tests, with a manifest.json saying what each
holds. Element i (C order) of every array is value(i) below; the Go test
computes the same.

    python3 gen.py OUTDIR [all|small]

"all" writes every dtype x byte order x layout x shape (run by the test);
"small" the few committed under testdata/.
"""
import json
import os
import sys

import h5py
import numpy as np


def values(dtype, shape):
    n = int(np.prod(shape)) if len(shape) else 1
    i = np.arange(n)
    dt = np.dtype(dtype)
    if dt.kind == "b":
        v = (i % 3) == 0
    elif dt.kind == "f":
        v = ((i * 7) % 97) * 0.25 - 10
    elif dt.kind == "i":
        v = ((i * 7) % 97) - 40
    else:
        v = (i * 7) % 97
    return v.astype(dt).reshape(shape)


def engine_h5(path, name, arr, **kw):
    # pythonapi.py's _save_output, plus the storage options under test
    h5f = h5py.File(path, "w")
    ds = h5f.create_dataset(name, data=arr, **kw)
    ds.attrs["type"] = np.bytes_(str(arr.dtype))
    h5f.close()


def main():
    out, mode = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "all"
    os.makedirs(out, exist_ok=True)
    man = []

    def add(fn, kind, dtype, shape, **extra):
        e = {"file": fn, "kind": kind, "dtype": np.dtype(dtype).name, "shape": list(shape)}
        e.update(extra)
        man.append(e)

    if mode == "small":
        a = values("uint8", (6, 5))
        engine_h5(os.path.join(out, "mask_contiguous.h5"), "Segmentation", a)
        add("mask_contiguous.h5", "h5", "uint8", a.shape, name="Segmentation", type_attr="uint8")
        a = values(">f4", (3, 4, 5))
        engine_h5(os.path.join(out, "heat_chunked_gzip_shuffle_be.h5"), "heatmap", a,
                  chunks=(2, 3, 2), compression="gzip", shuffle=True)
        add("heat_chunked_gzip_shuffle_be.h5", "h5", "float32", a.shape, name="heatmap", type_attr=">f4")
        a = values("<i2", (4, 3))
        np.save(os.path.join(out, "v1_fortran.npy"), np.asfortranarray(a))
        add("v1_fortran.npy", "npy", "int16", a.shape)
        a = values(">f8", (2, 3))
        with open(os.path.join(out, "v3_be.npy"), "wb") as f:
            np.lib.format.write_array(f, a, version=(3, 0))
        add("v3_be.npy", "npy", "float64", a.shape)
    else:
        dtypes = ["uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64",
                  "float16", "float32", "float64", "bool"]
        layouts = {
            "contiguous": {},
            "compact": {"_compact": True},
            "chunked": {"chunks": True},
            "chunked_gzip": {"chunks": True, "compression": "gzip"},
            "chunked_gzip_shuffle": {"chunks": True, "compression": "gzip", "shuffle": True},
            "chunked_fletcher": {"chunks": True, "fletcher32": True, "shuffle": True},
            "chunked_edges": {"_edges": True},
        }
        shapes = [(5,), (7, 9), (3, 5, 4)]
        for dt in dtypes:
            for order in ("<", ">"):
                t = np.dtype(dt).newbyteorder(order) if np.dtype(dt).itemsize > 1 else np.dtype(dt)
                if order == ">" and np.dtype(dt).itemsize == 1:
                    continue
                for lname, kw in layouts.items():
                    for shape in shapes:
                        a = values(t, shape)
                        fn = "%s_%s_%s_%s.h5" % (dt, "be" if order == ">" else "le", lname, "x".join(map(str, shape)))
                        kw2 = {k: v for k, v in kw.items() if not k.startswith("_")}
                        if kw.get("_edges"):
                            kw2 = {"chunks": tuple(max(1, (d + 1) // 2) for d in shape), "compression": "gzip"}
                        if kw.get("_compact"):
                            fid = h5py.h5f.create(os.path.join(out, fn).encode())
                            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
                            dcpl.set_layout(h5py.h5d.COMPACT)
                            space = h5py.h5s.create_simple(shape)
                            tid = h5py.h5t.py_create(a.dtype)
                            ds = h5py.h5d.create(fid, b"out", tid, space, dcpl=dcpl)
                            ds.write(h5py.h5s.ALL, h5py.h5s.ALL, a)
                            ds.close()
                            fid.close()
                            add(fn, "h5", dt, shape, name="out")
                            continue
                        engine_h5(os.path.join(out, fn), "out", a, **kw2)
                        add(fn, "h5", dt, shape, name="out", type_attr=str(a.dtype))
                for ver in ((1, 0), (2, 0), (3, 0)):
                    for fortran in (False, True):
                        for shape in shapes + [(), (0, 3)]:
                            a = values(t, shape)
                            if fortran:
                                a = np.asfortranarray(a)
                            fn = "%s_%s_v%d_%s_%s.npy" % (dt, "be" if order == ">" else "le", ver[0], "F" if fortran else "C", "x".join(map(str, shape)) or "scalar")
                            with open(os.path.join(out, fn), "wb") as f:
                                np.lib.format.write_array(f, a, version=ver)
                            add(fn, "npy", dt, a.shape)
        # a scalar dataset and a nested group
        a = values("float32", ())
        engine_h5(os.path.join(out, "scalar.h5"), "s", a)
        add("scalar.h5", "h5", "float32", (), name="s", type_attr="float32")
        with h5py.File(os.path.join(out, "nested.h5"), "w") as h:
            h.create_group("b").create_dataset("inner", data=values("int32", (2, 2)))
            h.create_dataset("z", data=values("uint8", (1,)))
        add("nested.h5", "h5", "int32", (2, 2), name="b/inner")
        # what modelhub refuses, with the error it must give
        with h5py.File(os.path.join(out, "latest.h5"), "w", libver="latest") as h:
            h.create_dataset("x", data=values("uint8", (4,)))
        add("latest.h5", "h5", "uint8", (4,), error="libver='latest'")
        with h5py.File(os.path.join(out, "lzf.h5"), "w") as h:
            h.create_dataset("x", data=values("uint8", (40,)), compression="lzf")
        add("lzf.h5", "h5", "uint8", (40,), error="lzf")
        with h5py.File(os.path.join(out, "strings.h5"), "w") as h:
            h.create_dataset("x", data=np.array([b"ab", b"cd"]))
        add("strings.h5", "h5", "uint8", (2,), error="strings")
        with h5py.File(os.path.join(out, "empty.h5"), "w") as h:
            h.attrs["a"] = 1
        add("empty.h5", "h5", "uint8", (0,), error="no dataset")
        np.save(os.path.join(out, "objects.npy"), np.array([1, "a"], dtype=object), allow_pickle=True)
        add("objects.npy", "npy", "uint8", (2,), error="dtype")
        np.save(os.path.join(out, "complex.npy"), np.zeros(3, dtype=np.complex64))
        add("complex.npy", "npy", "uint8", (3,), error="dtype")
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(man, f, indent=1)


main()
