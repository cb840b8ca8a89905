#!/usr/bin/python3
"""make_seeds.py OUTDIR — writes the seed corpora of the fuzz harnesses (tests/fuzz/fuzz_*.c):
OUTDIR/NAME/NN-what, small valid (and a few nearly valid) inputs of each reader, and the
libFuzzer dictionaries tests/fuzz/NAME.dict next to this script. Deterministic: the same files
every time (make fuzz-seeds; the result is committed). Needs only the standard library and PIL
(for a JPEG)."""
import gzip
import io
import json
import os
import struct
import sys
import zlib

SEP = b"\n@@@@\n"  # between the files of one input (tests/fuzz/fuzz.h)
out = sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/seeds"
here = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(data, mtime=0):
    b = io.BytesIO()
    with gzip.GzipFile(fileobj=b, mode="wb", mtime=mtime, filename="") as g:
        g.write(data if isinstance(data, bytes) else data.encode())
    return b.getvalue()


def dictionary(target, words):
    with open(os.path.join(here, target + ".dict"), "w") as f:
        f.write("# libFuzzer dictionary of fuzz_%s (written by make_seeds.py)\n" % target)
        for w in words:
            f.write('"%s"\n' % "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "\\x%02x" % ord(c) for c in w))


# ---- cfg ------------------------------------------------------------------------------------
NET = "[net]\nbatch=2\nwidth=8\nheight=8\nchannels=1\n"
cfgs = {
    "conv": NET + "[convolutional]\nfilters=4\nsize=3\npad=1\nbatch_normalize=1\nactivation=leaky\n"
                  "[maxpool]\nsize=2\n[avgpool]\n[connected]\noutput=3\n[cost]\ntype=bce\n",
    "deconv": NET + "[conv]\nfilters=4\nsize=3\nstride=2\npadding=1\ngroups=1\n"
                    "[deconv]\nfilters=2\nsize=2\nstride=2\noutput_padding=1\nactivation=relu\n"
                    "[batchnorm]\nactivation=hardtanh\nmin=-2\nmax=2\n",
    "route": NET + "[route]\nlayers=input,input,input\n[convolutional]\nname=a\nfilters=3\nsize=1\n"
                   "[shortcut]\nfrom=-2\nactivation=logistic\n[route]\nlayers=a,-1\n[convolutional]\nfilters=4\n"
                   "[pixelshuffle]\nfactor=2\n[pad]\nleft=1\nright=2\ntop=1\nbottom=0\nmode=replicate\n",
    "pool": NET + "[maxpool]\nsize=3\nstride=2\ndarknet=1\n[avgpool]\nsize=2\nstride=1\npadding=1\n"
                  "[activation]\nactivation=relu\n[convolutional]\nfilters=2\nsize=1\ninit=icnr\nicnr_scale=1\n",
    "frozen": "[net]\nwidth=4\nheight=4\nchannels=3\nfrozen_bn=running\nfreeze=backbone\nlearning_rate=0.1\n"
              "[convolutional]\nname=c1\ngroup=backbone\nfilters=6\nsize=3\npadding=1\ngroups=3\nbn_name=norm\n"
              "batch_normalize=1\n[connected]\ngroup=head\noutput=2\ninit=xavier_uniform\nbias=0\n",
}
for i, (k, v) in enumerate(sorted(cfgs.items())):
    put("cfg", "%02d-%s" % (i, k), v)
put("cfg", "10-include",
    (NET + "[include]\nfile=inc1.cfg\ngroup=backbone\nprefix=bb.\n[include]\nfile=inc2.cfg\n[connected]\noutput=1\n").encode()
    + SEP + b"[convolutional]\nname=c\nfilters=2\nsize=3\npad=1\n[include]\nfile=inc2.cfg\nprefix=x.\n"
    + SEP + b"[maxpool]\nsize=2\nstride=1\n")
put("cfg", "11-include-net", (NET + "[include]\nfile=inc1.cfg\n").encode() + SEP + NET.encode()
    + b"[convolutional]\nfilters=1\n")
put("cfg", "12-comments", "# a comment\n; another\n[net]\nwidth=2 # trailing\nheight=2\nchannels=1\n\n"
    "[CONVOLUTIONAL]\nFilters=1\n")
dictionary("cfg", ["[net]", "[include]", "[convolutional]", "[conv]", "[deconvolutional]", "[batchnorm]",
                   "[activation]", "[maxpool]", "[avgpool]", "[connected]", "[route]", "[shortcut]",
                   "[pixelshuffle]", "[pad]", "[cost]", "width=", "height=", "channels=", "batch=", "filters=",
                   "size=", "stride=", "padding=", "pad=1", "groups=", "output_padding=", "batch_normalize=1",
                   "activation=", "leaky", "relu", "logistic", "hardtanh", "linear", "slope=", "min=", "max=",
                   "layers=", "from=", "factor=", "left=", "right=", "top=", "bottom=", "output=", "bias=",
                   "init=", "icnr", "icnr_scale=", "xavier_uniform", "kaiming_normal", "darknet=1", "name=",
                   "group=", "prefix=", "file=inc1.cfg", "file=inc2.cfg", "file=inc3.cfg", "input", "bn_name=",
                   "frozen_bn=", "freeze=", "type=bce", "2147483647", "-1", "1024", "65536", "\n@@@@\n"])

# ---- .data ----------------------------------------------------------------------------------
datas = {
    "chexpert": "format = chexpert\nroot = .\ntrain = CheXpert-v1.0-small/train.csv\n"
                "valid = CheXpert-v1.0-small/valid.csv\nlabels = Atelectasis:ones, Cardiomegaly:zeros, "
                "Consolidation:ignore, Edema:U-Ones, Pleural Effusion\nview = frontal\nsubset = 0.1\n"
                "subset_seed = 8\nbad_rows = skip\n",
    "nih": "format = nih\nentries = Data_Entry_2017.csv\nimages = .\ntrain = train_val_list.txt\n"
           "test = test_list.txt\nlabels = Atelectasis, Effusion, No Finding\nvalid_frac = 0.1\nsplit_seed = 3\n",
    "mura": "format = mura\ntrain = MURA-v1.1/train_image_paths.csv\nvalid = MURA-v1.1/valid_image_paths.csv\n"
            "body_part = XR_SHOULDER\ntrain_studies = a.csv\nview = all\n",
    "csv": "# comment\nformat = csv   # trailing\ntrain = labels.csv\ntest_frac = 0.2\npath_column = Path\n"
           "patient_column = Patient\nview_column = View\nimage_base = img\nlabels = A, B:ignore\npolicy = ones\n",
}
for i, (k, v) in enumerate(sorted(datas.items())):
    put("datafile", "%02d-%s" % (i, k), v)
put("datafile", "10-mimic", "format = mimic\ntrain = m/split.csv.gz\nvalid = m/split.csv.gz\n"
    "study_labels = m/chexpert.csv.gz\nmetadata = m/metadata.csv.gz\nimages = m\nview = frontal\n"
    "labels = Edema:ones, Pleural Effusion\n")
put("datafile", "11-padchest", "format = padchest\ntrain = p.csv\nimages = img\nlabelled_by = physician\n"
    "test_frac = 0.2\nlabels = pleural effusion\n")
put("datafile", "12-vindr", "format = vindr\ntrain = a/image_labels_train.csv\ntest = a/image_labels_test.csv\n"
    "aggregate = uncertain\npolicy = ignore\nlabels = Cardiomegaly, No finding\n")
dictionary("datafile", ["format", "chexpert", "nih", "mura", "csv", "root", "train", "valid", "test", "labels",
                        "policy", "ones", "zeros", "ignore", "U-", "view", "frontal", "lateral", "all",
                        "body_part", "XR_", "subset", "subset_seed", "valid_frac", "test_frac", "split_seed",
                        "entries", "images", "image_base", "path_column", "patient_column", "view_column",
                        "train_studies", "valid_studies", "test_studies", "bad_rows", "skip", "error", " = ",
                        "4294967295", "1e-300", "mimic", "padchest", "vindr", "study_labels", "metadata",
                        "aggregate", "any", "majority", "uncertain", "labelled_by", "physician", "model"])

# ---- CSV and gzip ---------------------------------------------------------------------------
chx_head = ("Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,"
            "Lung Opacity,Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,Pleural Effusion,"
            "Pleural Other,Fracture,Support Devices\n")
chx_rows = ("CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg,Female,68,Frontal,AP,1.0,,,,,,,,,0.0,,,,1.0\n"
            "CheXpert-v1.0-small/train/patient00002/study2/view1_frontal.jpg,Female,87,Frontal,AP,,,-1.0,1.0,,-1.0,-1.0,,-1.0,,-1.0,,1.0,\n"
            "CheXpert-v1.0-small/train/patient00002/study1/view2_lateral.jpg,Female,83,Lateral,,,,,1.0,,,-1.0,,,,,,1.0,\n")
csvs = {
    "plain": "Path,A,B\nimg/a.png,1,0\nimg/b.png,,-1\n",
    "quoted": 'Path,"A,1","B ""x"""\r\n"img/a,b.png",1.0,0.0\r\n\r\n"multi\nline",-1.0,\r\n',
    "bom": "\ufeffPath,A\nx.png,1\n",
    "chexpert": chx_head + chx_rows,
}
for i, (k, v) in enumerate(sorted(csvs.items())):
    put("csv", "%02d-%s" % (i, k), v)
put("csv", "10-gzip", gz(csvs["plain"]))
put("csv", "11-gzip-members", gz("Path,A\nimg/a.png,1\n") + gz("img/b.png,0\n"))
put("gzip", "00-one", gz(csvs["chexpert"]))
put("gzip", "01-members", gz("a,b\n") + gz("c,d\n") + gz(""))
put("gzip", "02-stored", gzip.compress(b"x" * 100, compresslevel=0, mtime=0))
b = gz("name with a header\n")
put("gzip", "03-fname", b[:3] + bytes([b[3] | 8]) + b[4:10] + b"file.csv\0" + b[10:])
dictionary("csv", ['"', '""', ",", "\r\n", "\n", "\xef\xbb\xbf", "\x1f\x8b\x08\x00", "1.0", "-1.0", "0.0"])

# ---- datasets (fuzz_dataset: selector byte, then the files) ----------------------------------
def ds(sel, *files):
    return bytes([sel]) + SEP.join(f.encode() if isinstance(f, str) else f for f in files)


chx_valid = chx_head + chx_rows.replace("train/", "valid/")
put("dataset", "00-chexpert", ds(0, chx_head + chx_rows, chx_valid))
put("dataset", "01-chexpert-skip-frontal", ds(4 | 8 | 32, chx_head + chx_rows + "bad,row\n", chx_valid))
nih_head = ("Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
            "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],\n")
nih_rows = ("00000001_000.png,Cardiomegaly,0,1,58,M,PA,2682,2749,0.143,0.143,\n"
            "00000001_001.png,Cardiomegaly|Emphysema,1,1,58,M,PA,2894,2729,0.143,0.143,\n"
            "00000002_000.png,No Finding,0,2,81,M,AP,2500,2048,0.171,0.171,\n"
            "00000003_000.png,Effusion|Pleural_Thickening,0,3,74,F,PA,2500,2048,0.168,0.168,\n")
put("dataset", "02-nih", ds(1, nih_head + nih_rows, "00000001_000.png\n00000001_001.png\n00000003_000.png\n",
                           "00000002_000.png\n"))
put("dataset", "03-nih-v2020-drawn", ds(1 | 16 | 64, (nih_head + nih_rows).replace(",\n", "\r\n"),
                                        "00000001_000.png\r\n00000002_000.png\n", ""))
mura_paths = ("MURA-v1.1/train/XR_SHOULDER/patient00001/study1_positive/image1.png\n"
              "MURA-v1.1/train/XR_SHOULDER/patient00001/study1_positive/image2.png\n"
              "MURA-v1.1/train/XR_HAND/patient00002/study1_negative/image1.png\n")
mura_studies = ("MURA-v1.1/train/XR_SHOULDER/patient00001/study1_positive/,1\n"
                "MURA-v1.1/train/XR_HAND/patient00002/study1_negative/,0\n")
put("dataset", "04-mura", ds(2, mura_paths, mura_studies))
put("dataset", "05-mura-skip", ds(2 | 4 | 32, mura_paths + "MURA-v1.1/x.png\n", mura_studies + "a/,2\n"))
plain = "Path,A,B,Patient,View\nimg/a.png,1,0,p1,Frontal\nimg/b.png,,-1,p2,lateral\nimg/c.png,0.0,1.0,p2,PA\n"
put("dataset", "06-csv", ds(3, plain))
put("dataset", "07-csv-frontal-drawn", ds(3 | 8 | 16 | 64, plain + "img/d.png,1,1,p3,AP\n"))
put("dataset", "08-csv-gzip", ds(3 | 4, gz(plain)))
dictionary("dataset", ["Path", "Frontal/Lateral", "Frontal", "Lateral", "patient", "study", "/",
                       "Image Index", "Finding Labels", "Patient ID", "View Position", "No Finding",
                       "Cardiomegaly", "Effusion", "Atelectasis", "Pleural_Thickening", "|", "PA", "AP",
                       "XR_SHOULDER", "_positive/", "MURA-v1.1/", "CheXpert-v1.0-small/", "1.0", "-1.0", "0.0",
                       "\n@@@@\n"])

# ---- MIMIC-CXR-JPG, PadChest, VinDr-CXR (fuzz_cxr: selector byte, then the files) ------------
mimic_obs = "Atelectasis,Cardiomegaly,Edema,No Finding,Pleural Effusion"
mimic_split = ("dicom_id,study_id,subject_id,split\n"
               "02aa804e-bde0afdd-112c0b34-7bc16630-4e384014,50414267,10000032,train\n"
               "174413ec-4ec4c1f7-34ea26b7-c5f994f8-79ef1962,50414267,10000032,train\n"
               "2a2277a9-b0ded155-c0de8eb9-c124d10e-82c5caab,53189527,10000032,validate\n"
               "68b5c4b1-227d0485-9cc38c3f-7b84ab51-4b472714,53911762,10000764,test\n"
               "fffabebf-74fd3a1f-673b6b41-96ec0ac9-2ab69818,57375967,10000898,train\n")
mimic_labels = ("subject_id,study_id," + mimic_obs + "\n10000032,50414267,,,,1.0,\n10000032,53189527,-1.0,0.0,1.0,,1.0\n"
                "10000764,53911762,1.0,-1.0,,,0.0\n")
mimic_meta = ("dicom_id,subject_id,study_id,PerformedProcedureStepDescription,ViewPosition,Rows,Columns\n"
              "02aa804e-bde0afdd-112c0b34-7bc16630-4e384014,10000032,50414267,CHEST (PA AND LAT),PA,3056,2544\n"
              "174413ec-4ec4c1f7-34ea26b7-c5f994f8-79ef1962,10000032,50414267,CHEST (PA AND LAT),LATERAL,3056,2544\n"
              "2a2277a9-b0ded155-c0de8eb9-c124d10e-82c5caab,10000032,53189527,CHEST (PA AND LAT),AP,3056,2544\n"
              "68b5c4b1-227d0485-9cc38c3f-7b84ab51-4b472714,10000764,53911762,CHEST (PORTABLE AP),,2705,2539\n"
              "fffabebf-74fd3a1f-673b6b41-96ec0ac9-2ab69818,10000898,57375967,CHEST (PA AND LAT),LL,3056,2544\n")
put("cxr", "00-mimic", ds(0, mimic_split, mimic_labels, mimic_meta))
put("cxr", "01-mimic-gzip-skip-frontal", ds(4 | 8, gz(mimic_split + "x,1,2,dev\n"), gz(mimic_labels), gz(mimic_meta)))
put("cxr", "02-mimic-nometa-drawn", ds(128 | 16 | 64, mimic_split, mimic_labels))
pad_head = ("ImageID,ImageDir,PatientID,Projection,Report,MethodLabel,Labels,Localizations\n")
pad_rows = ("216840111366964012283393834152009033102258826_00-059-087.png,0,1a2b,PA,\"derrame, leve\",Physician,"
            "\"['pleural effusion', 'cardiomegaly']\",\"['loc left']\"\n"
            "216840111366964012819207061112010307142602253_04-014-084.png,4,1a2b,L,,RNN_model,\"[' normal']\",[]\n"
            "216840111366964013076187734852011291090445391_00-196-188.png,12,9f9f,AP_horizontal,,Physician,"
            "\"[\"\"o'brien sign\"\", 'cardiomegaly']\",\n"
            "216840111366964013590140476722013043111952381_02-065-198.png,3,7c7c,COSTAL,,Physician,,\n")
put("cxr", "03-padchest", ds(1, pad_head + pad_rows))
put("cxr", "04-padchest-physician-frontal-drawn", ds(1 | 128 | 8 | 16 | 4, pad_head + pad_rows + "bad.png,x,1,PA,,Physician,[,\n"))
vd_cols = "Aortic enlargement,Cardiomegaly,Pleural effusion,Other lesion,COPD,Other diseases,No finding"
vd_train = ("image_id,rad_id," + vd_cols + "\n"
            "000434271f63a053c4128a0ba6352c7f,R2,0,1,0,0,0,0,0\n"
            "00053190460d56c53cc3e57321387478,R11,0,0,0,0,0,0,1\n"
            "000434271f63a053c4128a0ba6352c7f,R3,0,1,1,0,0,0,0\n"
            "000434271f63a053c4128a0ba6352c7f,R4,0,0,1,0,0,1,0\n"
            "00053190460d56c53cc3e57321387478,R9,0,0,0,0,0,0,1\n")
vd_test = ("image_id," + vd_cols.replace("Other diseases", "Other disease") + "\n"
           "002a34c58c5b758217ed1f584ccbcfe9,0,1,1,0,0,0,0\n0055b0cf28f5e2a1e5c47ac45bc7b3fd,0,0,0,0,0,0,1\n")
put("cxr", "05-vindr", ds(2, vd_train, vd_test))
put("cxr", "06-vindr-uncertain-ignore", ds(3 | 64, vd_train, vd_test))
put("cxr", "07-vindr-majority-skip-subset", ds(2 | 128 | 4 | 16, vd_train + "000434271f63a053c4128a0ba6352c7f,R2,0,0,0,0,0,0,0\n",
                                             vd_test))
dictionary("cxr", ["dicom_id", "study_id", "subject_id", "split", "train", "validate", "test", "ViewPosition", "PA",
                   "AP", "LATERAL", "LL", "AP AXIAL", "1.0", "-1.0", "0.0", "ImageID", "ImageDir", "PatientID",
                   "Projection", "MethodLabel", "Physician", "RNN_model", "Labels", "AP_horizontal", "L", "['", "', '",
                   "']", "\\'", "image_id", "rad_id", "R1", "Other disease", "Cardiomegaly", "Pleural effusion",
                   "\n@@@@\n"])

# ---- safetensors ----------------------------------------------------------------------------
def st(tensors, meta=None, pad=True):
    """tensors: [(name, dtype, shape, raw bytes)]"""
    hdr, data = {}, b""
    if meta is not None:
        hdr["__metadata__"] = meta
    for name, dt, shape, raw in tensors:
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(hdr, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


f32 = lambda *v: struct.pack("<%df" % len(v), *v)
put("safetensors", "00-f32", st([("a", "F32", [2, 2], f32(1, 2, 3, 4)), ("b", "F32", [], f32(0.5))],
                                {"format": "pt"}))
put("safetensors", "01-dtypes", st([("h", "F16", [2], struct.pack("<2e", 1.5, -2)),
                                    ("bf", "BF16", [1], b"\x80\x3f"), ("i", "I64", [2], struct.pack("<2q", -1, 7)),
                                    ("u8", "U8", [3], b"\x00\x7f\xff"), ("b", "BOOL", [1], b"\x01"),
                                    ("d", "F64", [1], struct.pack("<d", 0.25)), ("e", "F8_E4M3", [2], b"\x38\x7f"),
                                    ("z", "F32", [0, 3], b"")]))
put("safetensors", "02-nopad", st([("x", "I32", [1, 1], struct.pack("<i", 3))], pad=False))
dictionary("safetensors", ['"dtype"', '"shape"', '"data_offsets"', '"__metadata__"', '"F32"', '"F16"', '"BF16"',
                           '"F64"', '"I64"', '"U64"', '"I32"', '"U32"', '"I16"', '"U16"', '"I8"', '"U8"',
                           '"BOOL"', '"F8_E4M3"', '"F8_E5M2"', "[", "]", "{", "}", ":", ",", "18446744073709551615"])

# ---- weights (fuzz_weights' network: 169 floats in darknet order) -----------------------------
names = [("conv.bn.bias", [2]), ("conv.bn.weight", [2]), ("conv.bn.running_mean", [2]),
         ("conv.bn.running_var", [2]), ("conv.weight", [2, 1, 3, 3]), ("up.bias", [1]), ("up.weight", [2, 1, 2, 2]),
         ("bn.weight", [1]), ("bn.running_mean", [1]), ("bn.running_var", [1]), ("bn.bias", [1]),
         ("head.bias", [2]), ("head.weight", [2, 64])]
numel = lambda s: eval("*".join(map(str, s)) or "1")
total = sum(numel(s) for _, s in names)
vals = [((i * 37) % 23 - 11) / 16.0 for i in range(total)]
vals = [abs(v) + 0.5 if "running_var" in n else v for n, s in names for v in vals[:numel(s)]]  # var > 0
put("weights", "00-darknet-0.2", struct.pack("<3iQ", 0, 2, 0, 1000) + f32(*vals))
put("weights", "01-darknet-0.1", struct.pack("<3ii", 0, 1, 0, 1000) + f32(*vals))
tens, o = [], 0
for n, s in names:
    k = numel(s)
    tens.append((n, "F32", s, f32(*vals[o:o + k])))
    o += k
put("weights", "02-safetensors", st(tens + [("conv.bn.num_batches_tracked", "I64", [], struct.pack("<q", 5))]))
put("weights", "03-safetensors-partial", st([t for t in tens if t[0].startswith("conv.")]
                                            + [("fc.weight", "F32", [1, 1], f32(1)), ("other", "F32", [1], f32(2))]))
put("weights", "04-zip", b"PK\x03\x04" + b"\0" * 40)
dictionary("weights", ['"conv.weight"', '"head.weight"', '"fc.weight"', '"module."', '"backbone."',
                       '"num_batches_tracked"', '"dtype"', '"F32"', '"shape"', '"data_offsets"'])

# ---- images ---------------------------------------------------------------------------------
def png(w, h, depth, ctype, rows, interlace=0, plte=None):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    body = chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace))
    if plte:
        body += chunk(b"PLTE", plte)
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def adam7(w, h, bpp):
    """the scanlines of an interlaced image, pass by pass (filter type 0)"""
    out = b""
    for x0, y0, dx, dy in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
                           (0, 1, 1, 2)]:
        xs = range(x0, w, dx)
        if not len(xs):
            continue
        for y in range(y0, h, dy):
            out += b"\0" + bytes((x * 29 + y * 7 + k) & 255 for x in xs for k in range(bpp))
    return out


def rows(w, h, bpp):
    return b"".join(b"\0" + bytes((x * 29 + y * 7) & 255 for x in range(w * bpp)) for y in range(h))


put("image", "00-grey8", b"\0" + png(4, 3, 8, 0, rows(4, 3, 1)))
put("image", "01-grey16", b"\0" + png(3, 2, 16, 0, rows(3, 2, 2)))
put("image", "02-rgb", b"\0" + png(2, 2, 8, 2, rows(2, 2, 3)))
put("image", "03-rgba16", b"\0" + png(2, 2, 16, 6, rows(2, 2, 8)))
put("image", "04-palette", b"\0" + png(4, 1, 8, 3, b"\0\0\1\2\1", plte=b"\0\0\0\xff\x80\x00\x10\x20\x30"))
put("image", "05-grey1", b"\0" + png(8, 2, 1, 0, b"\0\xa5\0\x5a"))
put("image", "06-interlaced", b"\0" + png(5, 5, 8, 4, adam7(5, 5, 2), interlace=1))
try:
    from PIL import Image
    for i, (mode, q) in enumerate([("L", 75), ("RGB", 90)]):
        im = Image.new(mode, (8, 8))
        im.putdata([((x * 31 + y * 17) & 255) if mode == "L" else (x * 30, y * 30, 128)
                    for y in range(8) for x in range(8)])
        b = io.BytesIO()
        im.save(b, "JPEG", quality=q, progressive=(i == 1))
        put("image", "1%d-jpeg-%s" % (i, mode), b"\1" + b.getvalue())
except ImportError:
    pass
dictionary("image", ["IHDR", "IDAT", "IEND", "PLTE", "tRNS", "\x89PNG\r\n\x1a\n", "\xff\xd8\xff", "\xff\xc0",
                     "\xff\xc2", "\xff\xc4", "\xff\xda", "\xff\xd9", "\xff\xdb", "\xff\xe0"])

# ---- JSON -----------------------------------------------------------------------------------
for i, j in enumerate(['{"a": [1, 2.5e-3, -0, true, false, null], "b": {"c": "\\u00e9\\ud83d\\ude00\\n"}}',
                       '[[[[]]], {}, "", 1e308, -9223372036854775808]', '"\\u0000x"',
                       '{"dup": 1, "dup": 2}']):
    put("json", "%02d" % i, j)
dictionary("json", ["true", "false", "null", "\\u", "\\ud800", "\\udc00", "e+", "E-", "[", "]", "{", "}", ":",
                    ",", '"'])

# ---- .exp and .grid -------------------------------------------------------------------------
exp = ("[experiment]\nnet = cfg/resnet18-pixelshuffle.cfg\ndata = data/demo.data\n"
       "set = net.width=64, net.height=64\noutput = build/demo-run\nseed = 1\nbatch = 16\nworkers = 1\n"
       "weights = e.weights\nweight_decay = 1e-2\nsubset = 0.5\nsubset_seed = 8\n\n"
       "[stage]\nstage = color\nmax_lr = 1e-2\nepochs = 4\n\n[stage]\nstage = all\n\n"
       "[stage]\nstage = last\ndata = data/other.data\nmax_lr = 3e-3\n")
put("exp", "00-demo", exp)
put("exp", "01-baseline", "[experiment]\nnet = a.cfg\ndata = a.data\noutput = out\n[stage]\nstage = baseline\n"
    "[stage]\nstage = baseline-all\nepochs = 0\n")
put("exp", "02-include", b"[experiment]\nnet = a.cfg\ndata = a.data\noutput = out\n[include]\nfile=inc1.cfg\n"
    + SEP + b"[stage]\nstage = color\n")
grid = ("[grid]\ndata = data/demo.data\nbackbones = resnet18, densenet121\nset = net.width=64, net.height=64\n"
        "fractions = 0.25, 0.1\nseeds = 1, 2\nsubset_seeds = 8, 8829\nreplicates = zip\nbatch = 16\nworkers = 2\n"
        "epochs = 3\nbaseline.max_lr = 1e-2\ncolor.max_lr = 1e-2\n\n[chain]\nmodules = none\nstages = baseline\n\n"
        "[chain]\nmodules = pixelshuffle, deconv\nstages = color, all\n")
put("grid", "00-demo", grid)
put("grid", "01-small", "[grid]\ndata = data/demo.data\nbackbones = resnet18\nseeds = 1\n[chain]\nmodules = coloru\n"
    "stages = color, all, last@data/demo.data\n")
dictionary("exp", ["[experiment]", "[stage]", "[include]", "stage", "baseline", "baseline-all", "color", "all", "last",
                   "net", "data", "output", "seed", "batch", "workers", "threads", "weights", "max_lr", "epochs",
                   "weight_decay", "decoupled_wd", "frozen_bn", "keep_color", "subset", "subset_seed", "set",
                   "gpu", "file=inc1.cfg", " = "])
dictionary("grid", ["[grid]", "[chain]", "modules", "stages", "backbones", "fractions", "seeds", "subset_seeds",
                    "replicates", "zip", "cross", "none", "pixelshuffle", "deconv", "coloru", "resnet18",
                    "densenet121", "color", "all", "last", "baseline", "@", ".max_lr", ".epochs", " = "])

# ---- run files (fuzz_runfiles: selector byte, then the file) ---------------------------------
put("runfiles", "00-log", b"\0stage,epoch,iter,loss,lr,momentum,seconds\ncolor,1,1,0.693147,1.234567e-04,0.950000,0.125\n"
    b"all,1,2,0.5,2.5e-03,0.949,1.5\n")
put("runfiles", "01-valid", b'\1stage,iter,epoch,loss,"A","B, x",mean\ncolor,10,1,0.5,0.75,nan,0.75\n'
    b"color,20,2,0.4,0.8,0.6,0.7\n")
put("runfiles", "02-results", b'\2stage_index,stage,data,label,auc,best_iter,iters,seconds\n'
    b'1,color,d.data,"A",0.75,10,20,3.5\n1,color,d.data,mean,0.75,10,20,3.5\n'
    b'2,all,d.data,"A",0.8,5,20,4\n2,all,d.data,mean,0.8,5,20,4\n')
put("runfiles", "03-runs", b"\3index\tname\tbackbone\tmodule\tstages\tsubset\tsubset_seed\tseed\tnet\tdata\tweights\n"
    b"1\trn18_color\tresnet18\tpixelshuffle\tcolor+all\t0.25\t8\t1\tcfg/a.cfg\td.data\t-\n")
dictionary("runfiles", ["stage", "color", "all", "last", "baseline", "baseline-all", "mean", "nan", "inf", ",", '"',
                        "\t", "-", "index", "stage_index", "best_iter", "iters", "seconds"])

# ---- colorization experiments and logs (fuzz_colorexp: x.exp, inc1.cfg, log.csv) --------------
cexp = ("[colorize]\nnet = cfg/colorize/unet-resnet18.cfg\nset = net.width=64, net.height=64\n"
        "train = build/demo-colorize/color/train\nval = build/demo-colorize/color/val\nper_class = 0\n"
        "val_per_class = 0\nseed = 0\nbatch = 8\nepochs = 3\noptimizer = adam\nlr = 1e-3\n"
        "output = build/demo-colorize-run\n")
clog = ("epoch,iter,train_mse,val_mse,val_psnr,val_ssim,lr,seconds\n0,0,nan,0.0076,21.73,0.9098,0,0.000\n"
        "1,60,0.0111,0.0055,23.06,0.8793,0.001,305.4\n2,120,0.0061,0.0042,24.1,0.90,0.001,120.5\n")
put("colorexp", "00-demo", cexp.encode() + SEP + SEP + clog.encode())
put("colorexp", "01-rmsprop", b"[colorize]\nnet = a.cfg\ntrain = t\nval = v\noptimizer = rmsprop\nalpha = 0.9\n"
    b"eps = 1e-7\nl_scale = 1\nl_shift = 0\nweights = w.safetensors\ndraw_seed = 7\nmax_iters = 5\n" + SEP + SEP
    + b"epoch,iter,train_mse,val_mse,val_psnr,val_ssim,lr,seconds\n0,0,nan,1,2,0.5,0,0\n")
put("colorexp", "02-include", b"[include]\nfile=inc1.cfg\n" + SEP + b"[colorize]\nnet = a.cfg\ntrain = t\nval = v\n"
    + SEP + b"epoch,iter,train_mse,val_mse,val_psnr,val_ssim,lr,seconds\r\n0,0,nan,1,2,0.5,0,0\r\n1,1,x,1,2,3,4,5\n")
dictionary("colorexp", ["[colorize]", "[include]", "net", "train", "val", "weights", "output", "per_class",
                        "val_per_class", "draw_seed", "seed", "batch", "epochs", "max_iters", "optimizer", "adam",
                        "adamw", "rmsprop", "sgd", "lr", "beta1", "beta2", "eps", "alpha", "momentum", "weight_decay",
                        "centered", "decoupled_wd", "l_scale", "l_shift", "samples", "workers", "threads", "gpu",
                        "set", " = ", "epoch,iter,train_mse,val_mse,val_psnr,val_ssim,lr,seconds", "nan", ","])

# ---- eval's predictions.csv read back (fuzz_predictions: the file, for a split of a.png, b.png,
# /d/c.png, d"q.png and labels A, "B, x"; d.png's A is ignored) -------------------------------
pred_head = 'path,"A","B, x","truth:A","truth:B, x"\n'
put("predictions", "00-ok", pred_head + '"a.png",0.9,0.25,1,1\n"b.png",0.1,0.5,0,1\n"/d/c.png",0.1,0.125,0,0\n'
    '"d""q.png",0.75,0.5,,0\n')
put("predictions", "01-order", '"truth:B, x",path,"B, x","truth:A",A,extra\n1,"b.png",1,0,0.5,x\n1,a.png,0.5,1,1,y\n0,/d/c.png,0,0,0,z\n'
    '0,"d""q.png",1e-3,,0.999999999,w\n')
put("predictions", "02-missing", pred_head + '"a.png",0.9,0.25,1,1\n')
put("predictions", "03-truth", pred_head + '"a.png",0.9,0.25,1,1\n"b.png",0.1,0.5,1,1\n')
dictionary("predictions", ["path", "truth:A", "truth:B, x", "a.png", "b.png", "/d/c.png", "d\"\"q.png", ",", '"',
                           "0.5", "1", "0", "nan", "inf", "1e-300", "\r\n"])

# ---- PyTorch checkpoints (fuzz_pth: the file as x.pth), written by torch.save ----------------
def pth_seed(name, obj):
    import io
    import torch
    b = io.BytesIO()
    torch.save(obj, b)
    put("pth", name, b.getvalue())


def pth_seeds():
    import collections
    import torch
    sd = collections.OrderedDict([("c.weight", torch.arange(6.0).view(2, 3)), ("c.bias", torch.tensor([0.5, -1.0])),
                                  ("bn.num_batches_tracked", torch.tensor(3))])
    pth_seed("00-state-dict", sd)
    pth_seed("01-fastai", {"model": sd, "opt": {"state": {}, "param_groups": [{"lr": 0.1, "momentum": 0.9,
                                                                                  "nesterov": False, "params": [0, 1]}]}})
    base = torch.arange(12.0)
    pth_seed("02-views-half", {"t": base.view(3, 4).t(), "o": base[5:8], "h": torch.ones(2, 2).half()})


# the legacy format (torch.save(..., _use_new_zipfile_serialization=False)), written here the way
# torch does — five pickles, then each storage's count and bytes — but with storage keys "0", "1",
# ... where torch writes memory addresses (the seeds stay the same from run to run)
class LegacyStorage:
    def __init__(self, key, stype, values, view=None, location="cpu"):
        self.key, self.stype, self.values, self.view, self.location = key, stype, values, view, location


class LegacyTensor:
    def __init__(self, storage, offset, size, stride, v1=False):
        self.args = (storage, offset, tuple(size), tuple(stride))
        self.v1 = v1

    def __reduce__(self):
        import collections
        import torch
        if self.v1:  # torch <= 0.3
            return (torch._utils._rebuild_tensor, self.args)
        return (torch._utils._rebuild_tensor_v2, self.args + (False, collections.OrderedDict()))


class Py2OrderedDict(dict):
    def __reduce__(self):
        import collections
        return (collections.OrderedDict, ([[k, v] for k, v in self.items()],), {"_metadata": {}})


def legacy_pth(obj, protocol=2):
    storages = {}

    def pid(x):
        if not isinstance(x, LegacyStorage):
            return None
        storages[x.key] = x
        return ("storage", x.stype, x.key, x.location, len(x.values), x.view)

    import pickle
    f = io.BytesIO()
    for head in (0x1950a86a20f9469cfc6c, 1001, {"protocol_version": 1001, "little_endian": True,
                                                "type_sizes": {"short": 2, "int": 4, "long": 4}}):
        pickle.dump(head, f, protocol=protocol)
    p = pickle.Pickler(f, protocol=protocol)
    p.persistent_id = pid
    p.dump(obj)
    keys = sorted(storages)
    pickle.dump(keys, f, protocol=protocol)
    for k in keys:
        st = storages[k]
        fmt = {"FloatStorage": "<f", "HalfStorage": "<e", "LongStorage": "<q", "DoubleStorage": "<d"}[st.stype.__name__]
        f.write(struct.pack("<q", len(st.values)) + b"".join(struct.pack(fmt, v) for v in st.values))
    return f.getvalue()


def legacy_seeds():
    import collections
    import torch
    w = LegacyStorage("0", torch.FloatStorage, [float(i) for i in range(6)])
    b = LegacyStorage("1", torch.FloatStorage, [0.5, -1.0])
    n = LegacyStorage("2", torch.LongStorage, [3])
    sd = collections.OrderedDict([("c.weight", LegacyTensor(w, 0, (2, 3), (3, 1))), ("c.bias", LegacyTensor(b, 0, (2,), (1,))),
                                  ("bn.num_batches_tracked", LegacyTensor(n, 0, (), ()))])
    put("pth", "03-legacy-state-dict", legacy_pth(sd))
    put("pth", "04-legacy-fastai", legacy_pth({"model": sd, "opt": {"state": {0: {"step": 1, "exp_avg": sd["c.bias"]}},
                                                                        "param_groups": [{"lr": 0.1, "betas": (0.9, 0.99),
                                                                                          "amsgrad": False, "eps": 1e-8,
                                                                                          "foreach": None,
                                                                                          "params": [0, 1]}]}}))
    base = LegacyStorage("7", torch.FloatStorage, [float(i) for i in range(12)])
    h = LegacyStorage("8", torch.HalfStorage, [1.0, 2.0, -0.5, 65504.0])
    d = LegacyStorage("9", torch.DoubleStorage, [0.1, 1e300])
    put("pth", "05-legacy-views", legacy_pth(collections.OrderedDict([
        ("t", LegacyTensor(base, 0, (4, 3), (1, 4))), ("o", LegacyTensor(base, 5, (3,), (1,))),
        ("s", LegacyTensor(base, 1, (3,), (4,))), ("h", LegacyTensor(h, 0, (2, 2), (2, 1))),
        ("d", LegacyTensor(d, 0, (2,), (1,)))])))
    # torch <= 0.3: _rebuild_tensor, a GPU storage type, storage views (view key, offset, numel),
    # Python 2's OrderedDict([[key, value], ...])
    root = [float(i) for i in range(10)]
    v1 = LegacyStorage("5", torch.cuda.FloatStorage, root, ("50", 2, 5), "cuda:0")
    v2 = LegacyStorage("5", torch.cuda.FloatStorage, root, ("51", 6, 4), "cuda:0")
    put("pth", "06-legacy-torch03-views", legacy_pth(Py2OrderedDict([
        ("a.weight", LegacyTensor(v1, 1, (2, 2), (2, 1), v1=True)), ("a.bias", LegacyTensor(v2, 0, (4,), (1,), v1=True))])))
    put("pth", "07-legacy-protocol4", legacy_pth(sd, protocol=4))


pth_seeds()
legacy_seeds()
dictionary("pth", ["PK\x03\x04", "PK\x01\x02", "PK\x05\x06", "data.pkl", "archive/data/0", "storage",
                   "collections\nOrderedDict\n", "torch._utils\n_rebuild_tensor_v2\n", "torch\nFloatStorage\n",
                   "torch\nHalfStorage\n", "torch\nLongStorage\n", "cpu", "model", "state_dict",
                   "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", "\x80\x02M\xe9\x03.",
                   "torch._utils\n_rebuild_tensor\n", "torch.cuda\nFloatStorage\n", "torch\nDoubleStorage\n",
                   "\x01\x00\x00\x00\x00\x00\x00\x00", "ustar", "cuda:0", "\x93", "\x95"])



# ---- DICOM (fuzz_dicom: first byte 0/1 = no window / a user window, then the file) ------------
def dicom_seeds():
    """small DICOM files written with pydicom, and gdcmconv's lossless compressed copies"""
    import shutil
    import subprocess
    import tempfile
    try:
        import numpy as np
        from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
        from pydicom.sequence import Sequence
    except ImportError:
        print("make_seeds.py: python3-pydicom missing: DICOM seeds not written")
        return
    tmp = tempfile.mkdtemp()

    def dcm(name, a, bits, stored, signed=False, pi="MONOCHROME2", ts="1.2.840.10008.1.2.1", extra=None, spp=1,
            frames=1):
        m = FileMetaDataset()
        m.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
        m.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.10.1016.7"
        m.TransferSyntaxUID = ts
        ds = FileDataset(name, {}, file_meta=m, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = m.MediaStorageSOPClassUID, m.MediaStorageSOPInstanceUID
        ds.Rows, ds.Columns = a.shape[-2:] if spp == 1 else a.shape[-3:-1]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = spp, pi
        if spp > 1:
            ds.PlanarConfiguration = 0
        if frames > 1:
            ds.NumberOfFrames = frames
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, stored, stored - 1, int(signed)
        if extra:
            extra(ds)
        ds.is_little_endian = ts != "1.2.840.10008.1.2.2"
        ds.is_implicit_VR = ts == "1.2.840.10008.1.2"
        ds.PixelData = a.astype(("<" if ds.is_little_endian else ">") + ("i" if signed else "u") + str(bits // 8)).tobytes()
        p = os.path.join(tmp, name)
        ds.save_as(p)
        return p

    def lut(n, first, bits, vals):
        it = Dataset()
        it.add_new(0x00283002, "US", [n, first, bits])
        it.add_new(0x00283006, "US", [int(v) for v in vals])
        return it

    def win(c, w, fn=None):
        def f(ds):
            ds.WindowCenter, ds.WindowWidth = c, w
            if fn:
                ds.VOILUTFunction = fn
        return f

    y, x = np.mgrid[0:6, 0:8]
    g12 = (x * 500 + y * 100) % 4096
    files = [
        ("00-u16", dcm("a.dcm", g12 * 16, 16, 16)),
        ("01-u12-window-mono1", dcm("b.dcm", g12, 16, 12, pi="MONOCHROME1", extra=win("2048", "4096"))),
        ("02-s12-rescale-sigmoid", dcm("c.dcm", g12 - 2048, 16, 12, signed=True,
                                       extra=lambda ds: (setattr(ds, "RescaleSlope", "1"), setattr(ds, "RescaleIntercept", "-1024"),
                                                         win("-500", "1500", "SIGMOID")(ds)))),
        ("03-voilut", dcm("d.dcm", g12, 16, 12, extra=lambda ds: setattr(ds, "VOILUTSequence", Sequence([lut(16, 0, 16, range(0, 65536, 4096))])))),
        ("04-modlut", dcm("e.dcm", g12, 16, 12, extra=lambda ds: setattr(ds, "ModalityLUTSequence", Sequence([lut(16, 8, 12, range(16))])))),
        ("05-u8-implicit", dcm("f.dcm", g12 // 16, 8, 8, ts="1.2.840.10008.1.2", extra=win("128", "64", "LINEAR_EXACT"))),
        ("06-bigendian", dcm("g.dcm", g12, 16, 12, ts="1.2.840.10008.1.2.2")),
        ("07-multiframe", dcm("h.dcm", np.stack([g12, g12]), 16, 12, frames=2)),
        ("08-rgb", dcm("i.dcm", np.stack([g12 // 16] * 3, -1), 8, 8, pi="RGB", spp=3)),
    ]
    nopix = FileDataset("n.dcm", {}, file_meta=FileMetaDataset(), preamble=b"\0" * 128)
    nopix.file_meta.MediaStorageSOPClassUID = nopix.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"
    nopix.file_meta.MediaStorageSOPInstanceUID = nopix.SOPInstanceUID = "1.2.3"
    nopix.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    nopix.is_little_endian, nopix.is_implicit_VR = True, False
    nopix.save_as(os.path.join(tmp, "n.dcm"))
    files.append(("09-nopixels", os.path.join(tmp, "n.dcm")))
    if shutil.which("gdcmconv"):
        for i, kind in enumerate(("j2k", "jpeg", "rle", "jpegls")):
            o = os.path.join(tmp, kind + ".dcm")
            subprocess.run(["gdcmconv", "--" + kind, files[1][1], o], check=True, capture_output=True)
            files.append(("1%d-%s" % (i, kind), o))
    else:
        print("make_seeds.py: gdcmconv missing: no compressed DICOM seeds")
    for i, (name, p) in enumerate(files):
        put("dicom", name, bytes([i & 1]) + open(p, "rb").read())
    shutil.rmtree(tmp)


dicom_seeds()
dictionary("dicom", ["DICM", "\x28\x00\x50\x10", "\x28\x00\x51\x10", "\x28\x00\x52\x10", "\x28\x00\x53\x10",
                     "\x28\x00\x56\x10", "\x28\x00\x00\x30", "\x28\x00\x10\x30", "\x28\x00\x02\x30", "\x28\x00\x06\x30",
                     "\x28\x00\x08\x00", "\x28\x00\x04\x00", "\x28\x00\x00\x01", "\x28\x00\x01\x01", "\xe0\x7f\x10\x00",
                     "\xfe\xff\x00\xe0", "\xfe\xff\xdd\xe0", "\xfe\xff\x0d\xe0", "MONOCHROME1", "MONOCHROME2", "RGB",
                     "LINEAR_EXACT", "SIGMOID", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.80",
                     "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.2", "OW", "OB", "US", "SS",
                     "DS", "SQ", "UN"])
print("seeds in %s, dictionaries in %s" % (out, here))
