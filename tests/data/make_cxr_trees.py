#!/usr/bin/python3
"""make_cxr_trees.py OUTDIR — MIMIC-CXR-JPG, PadChest and VinDr-CXR trees in their real layouts, for
tests/test_datasets.c (the same expected-file conventions as make_trees.py).

  OUTDIR/mimic-cxr-jpg/2.0.0/mimic-cxr-2.0.0-{split,chexpert,metadata}.csv.gz,
                             files/p1X/pXXXXXXXX/sYYYYYYYY/<dicom_id>.jpg
  OUTDIR/padchest/PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv, <ImageDir>/<ImageID> (16-bit PNGs)
  OUTDIR/vindr-cxr/1.0.0/annotations/image_labels_{train,test}.csv, {train,test}/<image_id>.dicom

The label files are written the way the datasets ship them (gzip for MIMIC; the PadChest Labels
column as Python's str() of a list, quoted by the csv module as pandas does; VinDr's train rows one
per radiologist, shuffled so that an image's rows are not next to each other). The expected rows
are computed here from the definitions in docs/data.md, not by reading the files back:

  OUTDIR/expected/<name>.txt   path-relative-to-OUTDIR <TAB> y,... <TAB> mask,... <TAB> patient
  OUTDIR/expected/<name>_left_out.txt   the count of rows the format's rules leave out
"""
import csv
import gzip
import io
import os
import random
import sys

import numpy as np
from PIL import Image

out = sys.argv[1]
rng = random.Random(4321)
os.makedirs(os.path.join(out, "expected"), exist_ok=True)


def path_of(rel):
    p = os.path.join(out, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def write_csv(rel, header, rows, gz=False, crlf=False):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n" if crlf else "\n")
    w.writerow(header)
    for r in rows:
        w.writerow(r)
    data = buf.getvalue().encode("utf-8")
    with open(path_of(rel), "wb") as f:
        f.write(gzip.compress(data, mtime=0) if gz else data)


def expect(name, rows):
    with open(os.path.join(out, "expected", name + ".txt"), "w") as f:
        for rel, y, m, patient in rows:
            f.write("%s\t%s\t%s\t%s\n" % (rel, ",".join("%d" % v for v in y), ",".join("%d" % v for v in m), patient))


def expect_value(name, v):
    with open(os.path.join(out, "expected", name + ".txt"), "w") as f:
        f.write("%s\n" % v)


def jpeg(rel):
    a = np.array([[rng.randint(0, 255) for _ in range(9)] for _ in range(7)], dtype=np.uint8)
    Image.fromarray(a, "L").save(path_of(rel), "JPEG")


def png16(rel):
    a = np.array([[rng.randint(0, 65535) for _ in range(8)] for _ in range(6)], dtype=np.uint16)
    Image.fromarray(a, "I;16").save(path_of(rel), "PNG")


uid_n = [0]


def dicom(rel):
    """An uncompressed 12-bit MONOCHROME2 DX image, as VinDr-CXR's files are (before compression)."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian
    uid_n[0] += 1
    uid = "1.2.826.0.1.3680043.8.498.4321.%d" % uid_n[0]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
    meta.MediaStorageSOPInstanceUID = uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    p = path_of(rel)
    ds = FileDataset(p, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = uid
    ds.Modality = "DX"
    ds.ViewPosition = "PA"
    ds.Rows, ds.Columns = 6, 7
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    a = np.array([[rng.randint(0, 4095) for _ in range(7)] for _ in range(6)], dtype=np.uint16)
    ds.PixelData = a.tobytes()
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(p, write_like_original=False)


def target(v, pol):
    """(y, mask) of a raw value (1, 0, -1, None = blank) under a policy."""
    if v == 1:
        return 1, 1
    if v == -1:
        return (1, 1) if pol == "ones" else (0, 0) if pol == "ignore" else (0, 1)
    return 0, 1


# ---------------------------------------------------------------- MIMIC-CXR-JPG 2.0.0
MIMIC_OBS = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Enlarged Cardiomediastinum", "Fracture",
             "Lung Lesion", "Lung Opacity", "No Finding", "Pleural Effusion", "Pleural Other", "Pneumonia",
             "Pneumothorax", "Support Devices"]
PAPER = [("Atelectasis", "ones"), ("Cardiomegaly", "zeros"), ("Consolidation", "zeros"), ("Edema", "ones"),
         ("Pleural Effusion", "ones")]
MB = "mimic-cxr-jpg/2.0.0"
VIEWS = ["PA", "AP", "LATERAL", "LL", "", "AP AXIAL", "PA"]
split_rows, label_rows, meta_rows = [], [], []
images = []  # (split, rel, subject, labels dict or None, view)
unlabelled_study = None
for p in range(14):
    subject = "1%07d" % (rng.randint(0, 9999999))
    psplit = "train" if p < 9 else "validate" if p < 12 else "test"
    for s in range(rng.randint(1, 3)):
        study = "5%07d" % rng.randint(0, 9999999)
        vals = {o: rng.choice(["1.0", "0.0", "-1.0", ""]) for o in MIMIC_OBS}
        labelled = not (p == 2 and s == 0)  # one study the labeller wrote no row for
        if labelled:
            label_rows.append([subject, study] + [vals[o] for o in MIMIC_OBS])
        else:
            unlabelled_study = study
        for i in range(rng.randint(1, 3)):
            dicom_id = "-".join("%08x" % rng.getrandbits(32) for _ in range(5))
            view = rng.choice(VIEWS)
            rel = "%s/files/p%s/p%s/s%s/%s.jpg" % (MB, subject[:2], subject, study, dicom_id)
            split_rows.append([dicom_id, study, subject, psplit])
            meta_rows.append([dicom_id, subject, study, "CHEST (PA AND LAT)", view, "3056", "2544", "21800506",
                              "213014.531", "CHEST (PA AND LAT)", "postero-anterior", "Erect"])
            images.append((psplit, rel, subject, vals if labelled else None, view))
            jpeg(rel)
rng.shuffle(label_rows)  # the label file is joined, not read in order
write_csv(MB + "/mimic-cxr-2.0.0-split.csv.gz", ["dicom_id", "study_id", "subject_id", "split"], split_rows, gz=True)
write_csv(MB + "/mimic-cxr-2.0.0-chexpert.csv.gz", ["subject_id", "study_id"] + MIMIC_OBS, label_rows, gz=True)
write_csv(MB + "/mimic-cxr-2.0.0-metadata.csv.gz",
          ["dicom_id", "subject_id", "study_id", "PerformedProcedureStepDescription", "ViewPosition", "Rows", "Columns",
           "StudyDate", "StudyTime", "ProcedureCodeSequence_CodeMeaning", "ViewCodeSequence_CodeMeaning",
           "PatientOrientationCodeSequence_CodeMeaning"], meta_rows, gz=True)
raw = {"1.0": 1, "0.0": 0, "-1.0": -1, "": None}
for sp, name in [("train", "train"), ("validate", "valid"), ("test", "test")]:
    for frontal in (False, True):
        rows, left = [], 0
        for (isp, rel, subject, vals, view) in images:
            if isp != sp:
                continue
            if vals is None:  # counted before the view filter: the reader leaves it out
                left += 1
                continue
            if frontal and view not in ("PA", "AP"):
                continue
            ym = [target(raw[vals[o]], pol) for o, pol in PAPER]
            rows.append((rel, [a for a, _ in ym], [b for _, b in ym], subject))
        if not frontal:
            expect_value("mimic_%s_lateral" % name, sum(1 for im in images if im[0] == sp and im[3] is not None
                                                         and im[4] in ("LATERAL", "LL")))
        tag = "mimic_%s%s" % (name, "_frontal" if frontal else "")
        expect(tag, rows)
        expect_value(tag + "_left_out", left)
# malformed copies: a split nobody knows (line 4), a bad label value, a view MIMIC does not use
b = [list(r) for r in split_rows]
b[2][3] = "dev"
write_csv(MB + "/split_bad.csv", ["dicom_id", "study_id", "subject_id", "split"], b)
b = [list(r) for r in label_rows]
b[4][2 + MIMIC_OBS.index("Edema")] = "2.0"
write_csv(MB + "/chexpert_bad.csv", ["subject_id", "study_id"] + MIMIC_OBS, b)
expect_value("mimic_bad_label_line", 6)
b = [list(r) for r in meta_rows]
b[0][4] = "SIDEWAYS"
write_csv(MB + "/metadata_bad.csv", ["dicom_id", "subject_id", "study_id", "PerformedProcedureStepDescription",
                                     "ViewPosition", "Rows", "Columns", "StudyDate", "StudyTime",
                                     "ProcedureCodeSequence_CodeMeaning", "ViewCodeSequence_CodeMeaning",
                                     "PatientOrientationCodeSequence_CodeMeaning"], b)

# ---------------------------------------------------------------- PadChest
PC = "padchest"
PC_HEADER = ["ImageID", "ImageDir", "StudyDate_DICOM", "StudyID", "PatientID", "PatientBirth", "PatientSex_DICOM",
             "ViewPosition_DICOM", "Projection", "MethodProjection", "Pediatric", "Modality_DICOM",
             "Manufacturer_DICOM", "PhotometricInterpretation_DICOM", "PixelRepresentation_DICOM",
             "PixelAspectRatio_DICOM", "SpatialResolution_DICOM", "BitsStored_DICOM", "WindowCenter_DICOM",
             "WindowWidth_DICOM", "Rows_DICOM", "Columns_DICOM", "XRayTubeCurrent_DICOM", "Exposure_DICOM",
             "ExposureInuAs_DICOM", "ExposureTime", "RelativeXRayExposure_DICOM", "ReportID", "Report", "MethodLabel",
             "Labels", "Localizations", "LabelsLocalizationsBySentence", "labelCUIS", "LocalizationsCUIS"]
FINDINGS = ["normal", "pleural effusion", "cardiomegaly", "pneumonia", "atelectasis", "nodule", "chronic changes",
            "aortic elongation", "COPD signs", "o'brien sign"]
PC_LABELS = ["Pleural Effusion", "Cardiomegaly", "pneumonia", "Atelectasis", "COPD signs", "O'Brien sign"]
PROJ = {"PA": 1, "L": 2, "AP": 1, "AP_horizontal": 1, "COSTAL": 0, "UNK": 0, "EXCLUDE": 0}
pc_rows, pc_imgs, pc_missing = [], [], []
for p in range(12):
    pid = "%032x" % rng.getrandbits(128)
    for k in range(rng.randint(1, 4)):
        iid = "2168401113669640%029d_%02d-%03d-%03d.png" % (rng.getrandbits(90), rng.randint(0, 4),
                                                           rng.randint(0, 199), rng.randint(0, 199))
        d = str(rng.randint(0, 3))
        proj = rng.choice(list(PROJ))
        meth = rng.choice(["Physician", "RNN_model"])
        fs = rng.sample(FINDINGS, rng.randint(1, 3))
        n = len(pc_rows)
        if n < 3:  # every finding the .data names occurs somewhere (else the reader calls it a typo)
            fs = [["o'brien sign", "normal"], ["COPD signs"], ["pleural effusion", "cardiomegaly", "pneumonia",
                                                                "atelectasis"]][n]
        # PadChest writes some names with a leading space: "[' pleural effusion']"
        shown = [(" " + f if rng.random() < 0.3 else f) for f in fs]
        labels = str(shown)
        if n == 5:
            labels, fs = "", []   # a report without labels
        if n == 9:
            labels, fs = "[]", []
        row = ["" for _ in PC_HEADER]
        row[PC_HEADER.index("ImageID")] = iid
        row[PC_HEADER.index("ImageDir")] = d
        row[PC_HEADER.index("PatientID")] = pid
        row[PC_HEADER.index("Projection")] = proj
        row[PC_HEADER.index("MethodLabel")] = meth
        row[PC_HEADER.index("Labels")] = labels
        row[PC_HEADER.index("Report")] = "cardiomegalia, \"leve\". derrame pleural\nbilateral"
        row[PC_HEADER.index("StudyDate_DICOM")] = "20140102"
        row[PC_HEADER.index("Localizations")] = "['loc left']"
        pc_rows.append(row)
        rel = "%s/%s/%s" % (PC, d, iid)
        if n == 7:
            rel = "%s/%s" % (PC, iid)  # unpacked into the one folder
        if n == 11:
            pc_missing.append(rel)  # not written: the missing-file check names <ImageDir>/<ImageID>
        else:
            png16(rel)
        pc_imgs.append((rel, pid, proj, meth, fs))
write_csv(PC + "/PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv", PC_HEADER, pc_rows)
with open(os.path.join(out, "expected", "missing_padchest_all.txt"), "w") as f:
    f.write("".join(m + "\n" for m in pc_missing))


def canon(s):
    s = " ".join(s.replace("_", " ").lower().split())
    return "pleural effusion" if s == "effusion" else s


for tag, keep in [("padchest_all", lambda r: True), ("padchest_physician", lambda r: r[3] == "Physician"),
                  ("padchest_frontal", lambda r: PROJ[r[2]] == 1)]:
    rows, left = [], 0
    for r in pc_imgs:
        if tag != "padchest_frontal" and not keep(r):
            continue
        if not r[4]:  # counted before the view filter (labelled_by filters first)
            left += 1
            continue
        if not keep(r):
            continue
        have = {canon(f) for f in r[4]}
        y = [1 if canon(l) in have else 0 for l in PC_LABELS]
        rows.append((r[0], y, [1] * len(y), r[1]))
    expect(tag, rows)
    expect_value(tag + "_left_out", left)
b = [list(r) for r in pc_rows]
b[3][PC_HEADER.index("Labels")] = "['pleural effusion', 'cardiomegaly'"
write_csv(PC + "/labels_bad.csv", PC_HEADER, b)
b = [list(r) for r in pc_rows]
b[1][PC_HEADER.index("Projection")] = "OBLIQUE"
write_csv(PC + "/projection_bad.csv", PC_HEADER, b)

# ---------------------------------------------------------------- VinDr-CXR 1.0.0
VB = "vindr-cxr/1.0.0"
LOCAL = ["Aortic enlargement", "Atelectasis", "Calcification", "Cardiomegaly", "Clavicle fracture", "Consolidation",
         "Edema", "Emphysema", "Enlarged PA", "ILD", "Infiltration", "Lung Opacity", "Lung cavity", "Lung cyst",
         "Mediastinal shift", "Nodule/Mass", "Pleural effusion", "Pleural thickening", "Pneumothorax",
         "Pulmonary fibrosis", "Rib fracture", "Other lesion"]
GLOBAL_TRAIN = ["COPD", "Lung tumor", "Pneumonia", "Tuberculosis", "Other diseases", "No finding"]
GLOBAL_TEST = ["COPD", "Lung tumor", "Pneumonia", "Tuberculosis", "Other disease", "No finding"]
VD_LABELS = ["Aortic enlargement", "Cardiomegaly", "Effusion", "Other diseases", "No finding"]
VD_COLS = ["Aortic enlargement", "Cardiomegaly", "Pleural effusion", None, "No finding"]  # None: the Other disease(s)
tr_rows, tr_imgs = [], []
for i in range(10):
    iid = "%032x" % rng.getrandbits(128)
    rads = rng.sample(["R%d" % k for k in range(1, 18)], 3)
    marks = []
    for rad in rads:
        v = {c: rng.choice([0, 0, 1]) for c in LOCAL + GLOBAL_TRAIN}
        tr_rows.append([iid, rad] + [str(v[c]) for c in LOCAL + GLOBAL_TRAIN])
        marks.append(v)
    tr_imgs.append((iid, marks))
    dicom("%s/train/%s.dicom" % (VB, iid))
order = list(range(len(tr_rows)))
rng.shuffle(order)
tr_rows = [tr_rows[k] for k in order]
write_csv(VB + "/annotations/image_labels_train.csv", ["image_id", "rad_id"] + LOCAL + GLOBAL_TRAIN, tr_rows)
first_seen = []
for r in tr_rows:
    if r[0] not in first_seen:
        first_seen.append(r[0])
byid = dict(tr_imgs)


def col_of(j, test):
    return VD_COLS[j] or ("Other disease" if test else "Other diseases")


for rule in ["any", "majority", "all", "uncertain"]:
    for pol in ["ones", "zeros", "ignore"] if rule == "uncertain" else ["zeros"]:
        rows = []
        for iid in first_seen:
            marks = byid[iid]
            y, m = [], []
            for j in range(len(VD_LABELS)):
                p = sum(v[col_of(j, False)] for v in marks)
                r = {"any": p > 0, "majority": 2 * p > len(marks), "all": p == len(marks)}.get(rule)
                if rule == "uncertain":
                    a, b2 = target(1 if p == len(marks) else 0 if p == 0 else -1, pol)
                else:
                    a, b2 = (1 if r else 0), 1
                y.append(a)
                m.append(b2)
            rows.append(("%s/train/%s.dicom" % (VB, iid), y, m, ""))
        expect("vindr_train_%s%s" % (rule, "_" + pol if rule == "uncertain" else ""), rows)
te_rows, te_exp = [], []
for i in range(4):
    iid = "%032x" % rng.getrandbits(128)
    v = {c: rng.choice([0, 1]) for c in LOCAL + GLOBAL_TEST}
    te_rows.append([iid] + [str(v[c]) for c in LOCAL + GLOBAL_TEST])
    te_exp.append(("%s/test/%s.dicom" % (VB, iid), [v[col_of(j, True)] for j in range(len(VD_LABELS))],
                   [1] * len(VD_LABELS), ""))
    dicom("%s/test/%s.dicom" % (VB, iid))
write_csv(VB + "/annotations/image_labels_test.csv", ["image_id"] + LOCAL + GLOBAL_TEST, te_rows)
expect("vindr_test", te_exp)
b = [list(r) for r in tr_rows]
b.insert(6, list(b[2]))  # the same radiologist again for that image: line 8
write_csv(VB + "/annotations/image_labels_dup.csv", ["image_id", "rad_id"] + LOCAL + GLOBAL_TRAIN, b)
b = [list(r) for r in tr_rows]
b[4][2 + LOCAL.index("Cardiomegaly")] = "-1"
write_csv(VB + "/annotations/image_labels_badvalue.csv", ["image_id", "rad_id"] + LOCAL + GLOBAL_TRAIN, b)
print("cxr trees written to", out)
