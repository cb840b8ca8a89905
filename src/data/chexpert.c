/* chexpert.c — CheXpert's train.csv / valid.csv (Irvin et al. 2019).
 *
 * Header: Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,...,Support Devices. Values: 1.0
 * positive, 0.0 negative, -1.0 uncertain, blank = not mentioned (negative).
 * Path is "CheXpert-v1.0-small/train/patientNNNNN/studyN/viewN_frontal.jpg", relative to the
 * folder that contains CheXpert-v1.0-small/. Its first component (the dataset folder) is
 * replaced by the folder holding the CSV, so the dataset folder may be renamed and train= may
 * be any path to train.csv; image_base= overrides this (image = image_base/Path).
 * The patient id is the patientNNNNN folder; the view is the Frontal/Lateral column. */
#include "data/data_internal.h"

int mc_read_chexpert(mc_dataset *ds, const mc_datafile *df, const char *csv) {
    mc_labelcsv_spec spec = {
        .what = "CheXpert",
        .path_col = "Path",
        .patient_from_path = 1,
        .view_col = "Frontal/Lateral",
        .view_strict = 1,
        .strip_first = 1,
    };
    return mc_read_labelcsv(ds, df, csv, &spec);
}
