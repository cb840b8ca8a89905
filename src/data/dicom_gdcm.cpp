// dicom_gdcm.cpp — the GDCM side of DICOM decoding (src/data/dicom.h): parse the file, refuse what
// is not one grey image, decode the pixel data, read the display attributes. The only C++ file of
// medcolor; compiled with g++ when the build has GDCM (make DICOM=1). Nothing escapes: every
// exception is caught and becomes an error kind and a message; GDCM's own messages are off.
#include "data/dicom.h"

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <istream>
#include <streambuf>
#include <exception>
#include <mutex>
#include <new>
#include <set>
#include <string>
#include <vector>

#include <gdcmDataSet.h>
#include <gdcmFile.h>
#include <gdcmImage.h>
#include <gdcmImageReader.h>
#include <gdcmJPEGCodec.h>
#include <gdcmMediaStorage.h>
#include <gdcmPhotometricInterpretation.h>
#include <gdcmPixelFormat.h>
#include <gdcmSequenceOfFragments.h>
#include <gdcmReader.h>
#include <gdcmSequenceOfItems.h>
#include <gdcmTrace.h>
#include <gdcmTransferSyntax.h>
#include <gdcmUIDs.h>

namespace {

// GDCM reads the file from memory that dicom.c owns (its readers never open it): when GDCM asserts
// and dicom.c's guard jumps out of it (dicom.c, mc_dicom_gdcm_read), no file descriptor of a
// skipped destructor is left open. Seekable both ways within [data, data + n).
struct membuf : std::streambuf {
    membuf(const void *data, size_t n) {
        char *b = const_cast<char *>(static_cast<const char *>(data));
        setg(b, b, b + n);
    }
    pos_type seekoff(off_type off, std::ios_base::seekdir dir, std::ios_base::openmode which) override {
        if (!(which & std::ios_base::in)) return pos_type(off_type(-1));
        off_type base = dir == std::ios_base::beg ? 0 : dir == std::ios_base::cur ? gptr() - eback() : egptr() - eback();
        off_type p = base + off;
        if (p < 0 || p > egptr() - eback()) return pos_type(off_type(-1));
        setg(eback(), eback() + p, egptr());
        return pos_type(p);
    }
    pos_type seekpos(pos_type pos, std::ios_base::openmode which) override {
        return seekoff(off_type(pos), std::ios_base::beg, which);
    }
};

// One view of the file for one GDCM reader (each reader gets its own stream position).
struct memfile {
    membuf buf;
    std::istream is;
    memfile(const void *data, size_t n) : buf(data, n), is(&buf) {}
};

struct fail {
    int kind;
    std::string msg;
};

[[noreturn]] void refuse(int kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void refuse(int kind, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    throw fail{kind, buf};
}

void quiet_gdcm() {
    static std::once_flag once;
    std::call_once(once, [] {
        gdcm::Trace::DebugOff();
        gdcm::Trace::WarningOff();
        gdcm::Trace::ErrorOff();
        // gdcmAssertMacro writes "Assert: In ..." to std::cerr before its assert (which dicom.c's
        // guard turns into an error): medcolor has no other C++ that writes there
        std::cerr.rdbuf(nullptr);
        std::clog.rdbuf(nullptr);
    });
}

// The value of a short text element (DS, IS, CS, UI) of ds into buf: leading and trailing spaces
// and NULs removed, control characters replaced by '?' (the value may end up in a message);
// "" when absent or empty.
void get_text(const gdcm::DataSet &ds, uint16_t g, uint16_t e, char *buf, size_t n) {
    buf[0] = 0;
    gdcm::Tag tag(g, e);
    if (!ds.FindDataElement(tag)) return;
    const gdcm::DataElement &de = ds.GetDataElement(tag);
    const gdcm::ByteValue *bv = de.GetByteValue();
    if (!bv || !bv->GetPointer()) return;
    size_t len = bv->GetLength();
    const char *p = bv->GetPointer();
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == 0)) len--;
    while (len > 0 && (*p == ' ' || *p == 0)) p++, len--;
    if (len > n - 1) len = n - 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    buf[len] = 0;
}

unsigned rd16(const char *p) { return (unsigned)(unsigned char)p[0] | (unsigned)(unsigned char)p[1] << 8; }

// The first item of the LUT sequence (g,e) of ds into *lut.
void get_lut(const gdcm::DataSet &ds, uint16_t g, uint16_t e, const char *what, int little, int pixel_signed,
             mc_dicom_lut *lut) {
    gdcm::Tag tag(g, e);
    if (!ds.FindDataElement(tag)) return;
    gdcm::SmartPointer<gdcm::SequenceOfItems> sq = ds.GetDataElement(tag).GetValueAsSQ();
    if (!sq || sq->GetNumberOfItems() < 1) return;
    if (!little) refuse(MC_DICOM_EUNSUP, "%s in a big-endian file: not supported", what);
    const gdcm::DataSet &item = sq->GetItem(1).GetNestedDataSet();
    gdcm::Tag tdesc(0x0028, 0x3002), tdata(0x0028, 0x3006);
    if (!item.FindDataElement(tdesc) || !item.FindDataElement(tdata))
        refuse(MC_DICOM_EPARSE, "%s without LUT Descriptor (0028,3002) or LUT Data (0028,3006)", what);
    const gdcm::ByteValue *d = item.GetDataElement(tdesc).GetByteValue();
    if (!d || !d->GetPointer() || d->GetLength() != 6)
        refuse(MC_DICOM_EPARSE, "%s: LUT Descriptor (0028,3002) is not three 16-bit values", what);
    const char *p = d->GetPointer();
    unsigned n = rd16(p), first = rd16(p + 2), bits = rd16(p + 4);
    lut->n = n == 0 ? 65536 : (int)n;
    lut->first = pixel_signed ? (int)(int16_t)first : (int)first;
    lut->bits = (int)bits;
    const gdcm::ByteValue *v = item.GetDataElement(tdata).GetByteValue();
    size_t words = v && v->GetPointer() ? v->GetLength() / 2 : 0;
    if (words > 65536) words = 65536; /* more than any descriptor can ask for; the C side checks */
    lut->data = (uint16_t *)malloc((words ? words : 1) * sizeof(uint16_t));
    if (!lut->data) throw std::bad_alloc();
    for (size_t i = 0; i < words; i++) lut->data[i] = (uint16_t)rd16(v->GetPointer() + 2 * i);
    lut->ndata = (int)words;
    lut->present = 1;
}

std::string ts_name(const gdcm::TransferSyntax &ts) {
    const char *uid = gdcm::TransferSyntax::GetTSString(ts);
    if (!uid || !uid[0]) return "unknown transfer syntax";
    gdcm::UIDs u;
    if (u.SetFromUID(uid) && u.GetName() && u.GetName()[0]) return std::string(u.GetName()) + " (" + uid + ")";
    return uid;
}

// JPEG (baseline, extended, lossless): when GDCM's own JPEG codec fails, gdcm::Bitmap falls back to
// the external program /usr/bin/pvrg-jpeg through system() (Debian installs it with GDCM), which
// loops forever on some damaged streams (found by fuzz_dicom). So the JPEG pixel data is decoded
// here first with gdcm::JPEGCodec alone, set up as gdcm::Bitmap sets it up (from the attributes
// dicom.c has already checked); when that fails the file is refused and the image reader, whose
// JPEG codec would fail the same way, is never reached.
//
// Also here: the SOP class. gdcm::PixmapReader asserts when the meta group names a SOP class it
// knows that is not an image one and the data set names none it knows (found by fuzz_dicom); such
// a file is refused first: it is not an image.
// The sample precision P of a JPEG stream's frame header (SOF0..SOF15 but DHT, JPG, DAC), read
// segment by segment from SOI up to the first SOS; -1 when there is none before it or the headers
// run past the data (the codec then fails on its own).
int jpeg_precision(const unsigned char *p, size_t n) {
    if (n < 4 || p[0] != 0xFF || p[1] != 0xD8) return -1;
    size_t i = 2;
    while (i + 4 <= n) {
        if (p[i] != 0xFF) return -1;
        unsigned m = p[i + 1];
        if (m == 0xFF) { // fill byte
            i++;
            continue;
        }
        if (m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) { // no length
            i += 2;
            continue;
        }
        if (m == 0xDA || m == 0xD9) return -1; // scan or end before any frame header
        size_t len = ((size_t)p[i + 2] << 8) | p[i + 3];
        if (len < 2 || i + 2 + len > n) return -1;
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) return len >= 3 ? p[i + 4] : -1;
        i += 2 + len;
    }
    return -1;
}

// Nothing on the heap is owned by a frame of this file while a GDCM call runs: when GDCM
// asserts, dicom.c's guard jumps out past these frames without their destructors (what GDCM's
// own frames held is leaked and suppressed for LeakSanitizer; ours would be a real leak per bad
// file). So: the readers' set of tags to skip is built once, the codec's dimensions live in a
// per-thread vector, the decoded samples go straight into raw (which dicom.c frees).
const std::set<gdcm::Tag> &skip_pixel_data() {
    static const std::set<gdcm::Tag> skip = {gdcm::Tag(0x7fe0, 0x0010)};
    return skip;
}

// JPEG 2000. Two flaws of GDCM 3.0.21 that a damaged stream reaches, found by fuzz_dicom:
// - It reads whether a stream is lossless by walking its marker segments (parsej2k_imp in
//   gdcmJPEG2000Codec.cxx; GetHeaderInfo runs it on the first fragment while the image reader
//   reads the file, the decoder on all fragments joined). That walk skips each segment by its
//   declared length without comparing it with what is left, and reads bytes 4 and 9 of a COD
//   segment without looking at its length: a damaged length sends it past the buffer (a SEGV;
//   tests/regress/dicom/j2k-segment-length-past-end-gdcm-overread).
// - Its decoder allocates Rows x Columns samples of Bits Allocated and copies OpenJPEG's
//   components into them at the sizes the stream's SIZ segment gives, unchecked: a stream wider
//   than the attributes overflows the heap (free(): invalid pointer;
//   tests/regress/dicom/j2k-siz-wider-than-columns-gdcm-heap-overflow).
// So each buffer GDCM walks is walked here first, step by step as GDCM does, and refused where
// GDCM's walk would leave it; the SIZ segment (which must follow SOC: OpenJPEG reads nothing
// else there) must give one component per sample, each of Rows x Columns samples, at most Bits
// Allocated wide. A JP2 file in place of the codestream (GDCM accepts one; DICOM forbids it) is
// refused: GDCM's box walk has the first flaw too, and OpenJPEG walks the boxes its own way.
bool j2k_nolength(unsigned m) {
    return (m >= 0xFF30 && m <= 0xFF3F) || m == 0xFF4F /* SOC */ || m == 0xFF93 /* SOD */ || m == 0xFFD9 /* EOC */ ||
           m == 0xFF92 /* EPH */;
}

// the big-endian unsigned value of the bytes at p (JPEG 2000's byte order)
uint64_t be(const unsigned char *p, int bytes) {
    uint64_t v = 0;
    for (int k = 0; k < bytes; k++) v = v << 8 | p[k];
    return v;
}

// Whether GDCM's codestream walk over the n bytes at p stays inside them.
bool j2k_walk_inside(const unsigned char *p, size_t n) {
    size_t i = 0;
    while (n - i >= 2) {
        unsigned m = (unsigned)be(p + i, 2);
        i += 2;
        if (j2k_nolength(m)) {
            if (m == 0xFF93) return true; // SOD: GDCM stops
            continue;
        }
        if (n - i < 2) return true;
        size_t l = (size_t)be(p + i, 2);
        i += 2;
        if (l < 2) return true; // GDCM stops
        l -= 2;
        if (m == 0xFF52) { // COD: GDCM reads the segment's bytes 4 (MCT) and 9 (transformation)
            if (n - i < 10) return false;
            if (p[i + 4] > 1 || p[i + 9] != 1) return true; // GDCM stops there
        }
        if (l > n - i) return false; // GDCM's remaining count wraps and it reads on
        i += l;
    }
    return true;
}

// One buffer GDCM takes as a JPEG 2000 stream: a codestream (not JP2) of at least the 13 bytes
// both GDCM callers compare with the JP2 signature, on which GDCM's walk stays inside.
void check_j2k_buffer(const unsigned char *p, size_t n, const char *which) {
    static const unsigned char jp2_signature[12] = {0, 0, 0, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A};
    if (n < 13) refuse(MC_DICOM_EPARSE, "%s hold %zu bytes: too short for a JPEG 2000 stream (corrupt)", which, n);
    if (!memcmp(p, jp2_signature, sizeof jp2_signature))
        refuse(MC_DICOM_EUNSUP, "%s hold a JP2 file, where DICOM wants a JPEG 2000 codestream (non-conforming; "
               "gdcmconv --raw converts it)", which);
    if (!j2k_walk_inside(p, n))
        refuse(MC_DICOM_EPARSE, "the JPEG 2000 stream's marker segments run past the end of %s (corrupt)", which);
}

// The SIZ segment at the joined stream's start against the image attributes.
void check_j2k_siz(const unsigned char *p, size_t n, unsigned spp, unsigned rows, unsigned cols, unsigned ba) {
    size_t lsiz = n >= 6 ? (size_t)be(p + 4, 2) : 0, csiz = n >= 42 ? (size_t)be(p + 40, 2) : 0;
    if (n < 42 || be(p, 2) != 0xFF4F || be(p + 2, 2) != 0xFF51 || csiz < 1 || lsiz != 38 + 3 * csiz || 4 + lsiz > n)
        refuse(MC_DICOM_EPARSE, "the JPEG 2000 stream does not start with SOC and a whole SIZ segment (corrupt)");
    if (csiz != spp)
        refuse(MC_DICOM_EPARSE, "the JPEG 2000 stream has %zu component(s), Samples per Pixel is %u (corrupt)", csiz, spp);
    uint64_t X = be(p + 8, 4), Y = be(p + 12, 4), XO = be(p + 16, 4), YO = be(p + 20, 4);
    for (size_t i = 0; i < csiz; i++) {
        unsigned ssiz = p[42 + 3 * i], dx = p[43 + 3 * i], dy = p[44 + 3 * i], prec = (ssiz & 0x7F) + 1;
        if (!dx || !dy || X <= XO || Y <= YO)
            refuse(MC_DICOM_EPARSE, "the JPEG 2000 stream's SIZ segment is invalid (corrupt)");
        uint64_t w = (X + dx - 1) / dx - (XO + dx - 1) / dx, h = (Y + dy - 1) / dy - (YO + dy - 1) / dy;
        if (w != cols || h != rows)
            refuse(MC_DICOM_EPARSE, "the JPEG 2000 stream's component %zu is %llux%llu, Columns x Rows are %ux%u (corrupt)",
                   i, (unsigned long long)w, (unsigned long long)h, cols, rows);
        if ((prec <= 8 ? 8u : prec <= 16 ? 16u : 32u) > ba)
            refuse(MC_DICOM_EPARSE, "the JPEG 2000 stream's component %zu has %u-bit samples, Bits Allocated is %u (corrupt)",
                   i, prec, ba);
    }
}

// The JPEG 2000 Pixel Data: encapsulated (else GDCM's decoder reads fragments out of the value
// anyway); its first fragment and all fragments joined as above. v: the image attributes (precheck).
void precheck_j2k(const gdcm::DataElement &pix, const unsigned short *v) {
    const gdcm::SequenceOfFragments *sf = pix.GetSequenceOfFragments();
    if (!sf) refuse(MC_DICOM_EPARSE, "JPEG 2000 Pixel Data that is not encapsulated in fragments (corrupt)");
    size_t nf = sf->GetNumberOfFragments();
    if (nf == 0) refuse(MC_DICOM_EPARSE, "JPEG 2000 Pixel Data without fragments (corrupt)");
    const gdcm::ByteValue *fb = sf->GetFragment(0).GetByteValue();
    if (!fb || !fb->GetPointer()) refuse(MC_DICOM_EPARSE, "the first JPEG 2000 fragment is empty (corrupt)");
    static thread_local std::vector<unsigned char> joined; // one per thread, as the codec's dims below
    joined.clear();
    for (size_t k = 0; k < nf; k++) {
        const gdcm::ByteValue *b = sf->GetFragment(k).GetByteValue();
        if (b && b->GetPointer()) joined.insert(joined.end(), b->GetPointer(), b->GetPointer() + b->GetLength());
    }
    check_j2k_buffer((const unsigned char *)fb->GetPointer(), fb->GetLength(), "the first fragment's bytes");
    check_j2k_buffer(joined.data(), joined.size(), "the fragments");
    check_j2k_siz(joined.data(), joined.size(), v[0], v[1], v[2], v[3]);
}

void precheck(const void *data, size_t len) {
    bool j2k = false;
    {
        memfile mf(data, len);
        gdcm::Reader hdr; // the header only: the Pixel Data is skipped
        hdr.SetStream(mf.is);
        if (!hdr.ReadUpToTag(gdcm::Tag(0x7fe0, 0x0010), skip_pixel_data()))
            refuse(MC_DICOM_EPARSE, "not a readable DICOM file (corrupt or truncated)");
        gdcm::MediaStorage ms = hdr.GetFile().GetHeader().GetMediaStorage();
        if (ms != gdcm::MediaStorage::MS_END && !gdcm::MediaStorage::IsImage(ms)) {
            const char *name = ms.GetString() ? ms.GetString() : "?";
            gdcm::UIDs u;
            if (u.SetFromUID(name) && u.GetName()) name = u.GetName();
            refuse(MC_DICOM_EPARSE, "a DICOM object of a SOP Class that is not an image (%s)%s", name,
                   hdr.GetFile().GetDataSet().FindDataElement(gdcm::Tag(0x7fe0, 0x0010)) ? "" : ", without Pixel Data (7FE0,0010)");
        }
        gdcm::TransferSyntax ts = hdr.GetFile().GetHeader().GetDataSetTransferSyntax();
        j2k = ts == gdcm::TransferSyntax::JPEG2000Lossless || ts == gdcm::TransferSyntax::JPEG2000 ||
              ts == gdcm::TransferSyntax::JPEG2000Part2Lossless || ts == gdcm::TransferSyntax::JPEG2000Part2;
        if (!j2k && ts != gdcm::TransferSyntax::JPEGBaselineProcess1 && ts != gdcm::TransferSyntax::JPEGExtendedProcess2_4 &&
            ts != gdcm::TransferSyntax::JPEGLosslessProcess14 && ts != gdcm::TransferSyntax::JPEGLosslessProcess14_1)
            return;
    }
    memfile mf(data, len);
    gdcm::Reader pre;
    pre.SetStream(mf.is);
    if (!pre.Read()) refuse(MC_DICOM_EPARSE, "not a readable DICOM file (corrupt or truncated)");
    const gdcm::DataSet &ds = pre.GetFile().GetDataSet();
    gdcm::TransferSyntax ts = pre.GetFile().GetHeader().GetDataSetTransferSyntax();
    gdcm::Tag tpix(0x7fe0, 0x0010);
    if (!ds.FindDataElement(tpix)) return; // the image reader says "without Pixel Data"
    char text[32];
    unsigned short v[7] = {0, 0, 0, 0, 0, 0, 0}; // samples, rows, columns, bits allocated, stored, high bit, sign
    const uint16_t el[7] = {0x0002, 0x0010, 0x0011, 0x0100, 0x0101, 0x0102, 0x0103};
    for (int i = 0; i < 7; i++) {
        gdcm::Tag t(0x0028, el[i]);
        const gdcm::ByteValue *bv = ds.FindDataElement(t) ? ds.GetDataElement(t).GetByteValue() : nullptr;
        if (!bv || !bv->GetPointer() || bv->GetLength() != 2) refuse(MC_DICOM_EPARSE, "an image attribute (0028,%04X) is missing", el[i]);
        v[i] = (unsigned short)rd16(bv->GetPointer());
    }
    if (j2k) {
        precheck_j2k(ds.GetDataElement(tpix), v);
        return;
    }
    get_text(ds, 0x0028, 0x0004, text, sizeof text);
    // GDCM's JPEG codec takes the stream's precision over the attributes and then asserts (in
    // ImageCodec::DecodeByStreams) when the result has Bits Allocated != Bits Stored: a stream of 7
    // bits in a 12-in-16-bit image (found by fuzz_dicom). Real files carry Bits Stored or Bits
    // Allocated there (gdcmconv writes 16 for 12-bit data): anything else is refused first.
    const gdcm::SequenceOfFragments *sf = ds.GetDataElement(tpix).GetSequenceOfFragments();
    if (sf && sf->GetNumberOfFragments() > 0) {
        const gdcm::ByteValue *fb = sf->GetFragment(0).GetByteValue();
        int prec = fb && fb->GetPointer() ? jpeg_precision((const unsigned char *)fb->GetPointer(), fb->GetLength()) : -1;
        if (prec >= 0 && prec != v[4] && prec != v[3])
            refuse(MC_DICOM_EPARSE, "the JPEG stream's sample precision is %d bits, the image's Bits Stored %u and Bits "
                   "Allocated %u (corrupt)", prec, v[4], v[3]);
    }
    gdcm::JPEGCodec codec;
    static thread_local std::vector<unsigned int> dims(3); // allocated once per thread (see precheck)
    dims[0] = v[2], dims[1] = v[1], dims[2] = 1;
    codec.SetDimensions(dims);
    codec.SetPlanarConfiguration(0);
    codec.SetPhotometricInterpretation(gdcm::PhotometricInterpretation(gdcm::PhotometricInterpretation::GetPIType(text)));
    codec.SetPixelFormat(gdcm::PixelFormat(v[0], v[3], v[4], v[5], v[6]));
    codec.SetNeedOverlayCleanup(v[4] != v[3]);
    gdcm::DataElement out;
    if (!codec.Decode(ds.GetDataElement(tpix), out))
        refuse(MC_DICOM_EPARSE, "cannot decode the JPEG pixel data (%s; corrupt or unsupported)", ts_name(ts).c_str());
}

void read_file(const void *data, size_t len, mc_dicom_raw *raw, size_t max_pixels, int decode) {
    precheck(data, len);
    memfile mf(data, len);
    gdcm::ImageReader r;
    r.SetStream(mf.is);
    bool ok = r.Read();
    const gdcm::File &file = r.GetFile();
    const gdcm::DataSet &ds = file.GetDataSet();
    gdcm::TransferSyntax ts = file.GetHeader().GetDataSetTransferSyntax();
    snprintf(raw->ts, sizeof raw->ts, "%s", ts_name(ts).c_str());
    if (!ok) {
        if (ds.IsEmpty()) refuse(MC_DICOM_EPARSE, "not a readable DICOM file (corrupt or truncated)");
        if (!ds.FindDataElement(gdcm::Tag(0x7fe0, 0x0010))) {
            char sop[80];
            get_text(ds, 0x0008, 0x0016, sop, sizeof sop);
            gdcm::UIDs u;
            const char *name = sop[0] && u.SetFromUID(sop) && u.GetName() ? u.GetName() : sop[0] ? sop : "none given";
            refuse(MC_DICOM_EPARSE, "a DICOM object without Pixel Data (7FE0,0010), not an image (SOP Class: %s)", name);
        }
        refuse(MC_DICOM_EUNSUP, "GDCM cannot read this image (%s)", raw->ts);
    }
    const gdcm::Image &img = r.GetImage();
    char frames[32];
    get_text(ds, 0x0028, 0x0008, frames, sizeof frames);
    const unsigned *dims = img.GetDimensions();
    if ((img.GetNumberOfDimensions() > 2 && dims[2] > 1) || (frames[0] && strcmp(frames, "1") != 0))
        refuse(MC_DICOM_EUNSUP, "a multi-frame image (Number of Frames %s): one frame only (extract it first)",
               frames[0] ? frames : "> 1");
    const gdcm::PixelFormat &pf = img.GetPixelFormat();
    char pi[32];
    get_text(ds, 0x0028, 0x0004, pi, sizeof pi);
    snprintf(raw->photometric, sizeof raw->photometric, "%s", pi);
    gdcm::PhotometricInterpretation::PIType pit = img.GetPhotometricInterpretation();
    if (pf.GetSamplesPerPixel() != 1 ||
        (pit != gdcm::PhotometricInterpretation::MONOCHROME1 && pit != gdcm::PhotometricInterpretation::MONOCHROME2))
        refuse(MC_DICOM_EUNSUP, "Photometric Interpretation %s with %d sample(s) per pixel: grey only (MONOCHROME1 or MONOCHROME2)",
               pi[0] ? pi : gdcm::PhotometricInterpretation::GetPIString(pit), (int)pf.GetSamplesPerPixel());
    snprintf(raw->photometric, sizeof raw->photometric, "%s",
             pit == gdcm::PhotometricInterpretation::MONOCHROME1 ? "MONOCHROME1" : "MONOCHROME2");
    int ba = pf.GetBitsAllocated(), bs = pf.GetBitsStored(), hb = pf.GetHighBit(), rep = pf.GetPixelRepresentation();
    if (ba != 8 && ba != 16)
        refuse(MC_DICOM_EUNSUP, "Bits Allocated %d: 8 or 16 only", ba);
    if (bs < 1 || bs > ba || hb != bs - 1)
        refuse(MC_DICOM_EUNSUP, "Bits Stored %d, High Bit %d with Bits Allocated %d: the stored bits must be the low ones",
               bs, hb, ba);
    if (rep != 0 && rep != 1) refuse(MC_DICOM_EPARSE, "Pixel Representation %d (0 or 1)", rep);
    size_t w = dims[0], h = dims[1];
    if (w == 0 || h == 0) refuse(MC_DICOM_EPARSE, "image has zero size (%zux%zu)", w, h);
    if (w > max_pixels / h) refuse(MC_DICOM_EUNSUP, "image too large (%zux%zu pixels)", w, h);
    raw->w = (int)w;
    raw->h = (int)h;
    raw->bits_allocated = ba;
    raw->bits_stored = bs;
    raw->high_bit = hb;
    raw->pixel_rep = rep;
    if (!decode) return;
    size_t bytes = w * h * (size_t)(ba / 8);
    if (img.GetBufferLength() != bytes)
        refuse(MC_DICOM_EPARSE, "pixel data of %lu bytes for %zux%zu %d-bit pixels", img.GetBufferLength(), w, h, ba);
    if (!ts.IsEncapsulated()) {
        // GDCM pads a Pixel Data value cut short by the end of the file ("Incomplete Pixel Data
        // found", a warning): where its value starts, from a second parse up to it, plus its
        // length, must be within the file
        const gdcm::DataElement &pd = ds.GetDataElement(gdcm::Tag(0x7fe0, 0x0010));
        memfile mfu(data, len);
        gdcm::Reader upto;
        upto.SetStream(mfu.is);
        if (!upto.ReadUpToTag(gdcm::Tag(0x7fe0, 0x0010), skip_pixel_data()))
            refuse(MC_DICOM_EPARSE, "cannot locate the Pixel Data (corrupt or truncated)");
        size_t start = upto.GetStreamCurrentPosition(), vl = pd.GetVL().IsUndefined() ? 0 : (size_t)pd.GetVL();
        const gdcm::ByteValue *pbv = pd.GetByteValue();
        if (!pbv || pbv->GetLength() < bytes || vl < bytes) // GDCM's raw codec would read past it
            refuse(MC_DICOM_EPARSE, "the Pixel Data holds %zu bytes, %zux%zu %d-bit pixels need %zu", vl, w, h, ba, bytes);
        if (start + vl > len)
            refuse(MC_DICOM_EPARSE, "truncated: the Pixel Data needs %zu bytes, the file ends %zu bytes into it", vl,
                   len > start ? len - start : (size_t)0);
    }
    // decoded into raw->px itself (raw's memory: freed by dicom.c also when GDCM asserts in
    // GetBuffer and the guard jumps out past this frame), then widened in place from the end
    raw->px = (int32_t *)malloc(w * h * sizeof(int32_t));
    if (!raw->px) throw std::bad_alloc();
    const unsigned char *buf = (const unsigned char *)raw->px;
    if (!img.GetBuffer((char *)raw->px)) refuse(MC_DICOM_EPARSE, "cannot decode the pixel data (%s; corrupt or unsupported)", raw->ts);
    for (size_t i = w * h; i-- > 0;) { // pixel i's bytes end at or before 4 i + 4: not yet overwritten
        if (ba == 8) {
            unsigned char b = buf[i];
            raw->px[i] = rep ? (int32_t)(int8_t)b : (int32_t)b;
        } else {
            uint16_t u;
            memcpy(&u, buf + 2 * i, 2);
            raw->px[i] = rep ? (int32_t)(int16_t)u : (int32_t)u;
        }
    }
    get_text(ds, 0x0028, 0x1053, raw->slope, sizeof raw->slope);
    get_text(ds, 0x0028, 0x1052, raw->intercept, sizeof raw->intercept);
    get_text(ds, 0x0028, 0x1050, raw->center, sizeof raw->center);
    get_text(ds, 0x0028, 0x1051, raw->width, sizeof raw->width);
    get_text(ds, 0x0028, 0x1056, raw->voi_function, sizeof raw->voi_function);
    int little = ts.GetSwapCode() != gdcm::SwapCode::BigEndian;
    get_lut(ds, 0x0028, 0x3000, "Modality LUT Sequence (0028,3000)", little, rep, &raw->modality);
    get_lut(ds, 0x0028, 0x3010, "VOI LUT Sequence (0028,3010)", little, rep, &raw->voi);
}

}  // namespace

extern "C" int mc_dicom_gdcm_read(const void *data, size_t len, mc_dicom_raw *raw, size_t max_pixels, int decode,
                                  char *msg, size_t msgn) {
    memset(raw, 0, sizeof *raw);
    if (msgn) msg[0] = 0;
    int kind = MC_DICOM_OK;
    try {
        quiet_gdcm();
        read_file(data, len, raw, max_pixels, decode);
    } catch (const fail &f) {
        kind = f.kind;
        snprintf(msg, msgn, "%s", f.msg.c_str());
    } catch (const std::bad_alloc &) {
        kind = MC_DICOM_ENOMEM;
        snprintf(msg, msgn, "out of memory decoding the DICOM image");
    } catch (const std::exception &e) {
        kind = MC_DICOM_EPARSE;
        snprintf(msg, msgn, "GDCM failed on this file (%s)", e.what());
    } catch (...) {
        kind = MC_DICOM_EPARSE;
        snprintf(msg, msgn, "GDCM failed on this file");
    }
    if (kind != MC_DICOM_OK) mc_dicom_raw_free(raw);
    /* one line: GDCM's exception texts may hold newlines */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    return kind;
}

extern "C" int mc_dicom_supported(void) { return 1; }
