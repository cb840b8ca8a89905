#!/usr/bin/python3
"""quality_ref.py OUTDIR — references for tests/test_quality.c: PSNR, SSIM, FSIM/FSIMc and entropy
written here in numpy (np.fft) from the definitions of §2 step 10 of the specification
(FeatureSIM.m's FSIM with Kovesi's phasecong2), independently of src/imaging/.

OUTDIR/manifest.txt, one line per case:
  pair NAME W H C PSNR SSIM FSIM FSIMC ENT_A ENT_B SKSSIM   NAME_a.in, NAME_b.in (W*H*C bytes);
        the metrics of the spec on grey (C = 1), or with C = 3 FSIM on PIL "L" and FSIMc on RGB;
        SKSSIM: skimage.metrics.structural_similarity (gaussian_weights, sigma 1.5,
        use_sample_covariance False, data_range 255) or nan without scikit-image
  pc NAME W H                             NAME.in (float64 image), NAME.out (its PC map)
  fft N                                   fft_N.in (N complex128), fft_N.out = np.fft.fft
  meanstd N MEAN STD                      meanstd.in (N float64), np.mean / np.std (ddof 0)
Inputs from numpy.random.RandomState(2011). tests/ref/quality_files.py imports the metrics from here.
"""
import os
import sys

import numpy as np
from PIL import Image

OUT = sys.argv[1] if __name__ == "__main__" else None
rng = np.random.RandomState(2011)
man = []


def put(name, arr):
    np.ascontiguousarray(arr).tofile(os.path.join(OUT, name))


def conv2_same(img, k):
    """MATLAB conv2(img, k, 'same'): the full convolution (zeros outside), its central part
    starting at floor(size(k)/2)"""
    kh, kw = k.shape
    h, w = img.shape
    full = np.zeros((h + kh - 1, w + kw - 1))
    for i in range(kh):
        for j in range(kw):
            full[i:i + h, j:j + w] += k[i, j] * img
    return full[kh // 2:kh // 2 + h, kw // 2:kw // 2 + w]


def grid(n):
    if n % 2:
        r = np.arange(-(n - 1) / 2, (n - 1) / 2 + 1) / max(n - 1, 1)
    else:
        r = np.arange(-n / 2, n / 2) / n
    return r


def phasecong(im, nscale=4, norient=4, minwl=6.0, mult=2.0, sigma_onf=0.55, dtheta_on_sigma=1.2, k=2.0,
              eps=1e-4):
    rows, cols = im.shape
    imagefft = np.fft.fft2(im)
    x, y = np.meshgrid(grid(cols), grid(rows))
    radius = np.sqrt(x ** 2 + y ** 2)
    theta = np.arctan2(-y, x)
    radius = np.fft.ifftshift(radius)
    theta = np.fft.ifftshift(theta)
    lp = 1.0 / (1.0 + (radius / 0.45) ** 30)  # lowpassfilter: radius 0 at the corner, before the fix below
    radius[0, 0] = 1.0
    sintheta, costheta = np.sin(theta), np.cos(theta)
    theta_sigma = np.pi / norient / dtheta_on_sigma
    loggabor = []
    for s in range(nscale):
        fo = 1.0 / (minwl * mult ** s)
        lg = np.exp(-(np.log(radius / fo)) ** 2 / (2 * np.log(sigma_onf) ** 2)) * lp
        lg[0, 0] = 0
        loggabor.append(lg)
    energy_all = np.zeros((rows, cols))
    an_all = np.zeros((rows, cols))
    for o in range(norient):
        angl = o * np.pi / norient
        ds = sintheta * np.cos(angl) - costheta * np.sin(angl)
        dc = costheta * np.cos(angl) + sintheta * np.sin(angl)
        dtheta = np.abs(np.arctan2(ds, dc))
        spread = np.exp(-dtheta ** 2 / (2 * theta_sigma ** 2))
        sum_e = np.zeros((rows, cols))
        sum_o = np.zeros((rows, cols))
        sum_an = np.zeros((rows, cols))
        eos, iffts = [], []
        for s in range(nscale):
            filt = loggabor[s] * spread
            iffts.append(np.real(np.fft.ifft2(filt)) * np.sqrt(rows * cols))
            eo = np.fft.ifft2(imagefft * filt)
            eos.append(eo)
            sum_an += np.abs(eo)
            sum_e += eo.real
            sum_o += eo.imag
            if s == 0:
                em_n = np.sum(filt ** 2)
        xenergy = np.sqrt(sum_e ** 2 + sum_o ** 2) + eps
        mean_e, mean_o = sum_e / xenergy, sum_o / xenergy
        energy = np.zeros((rows, cols))
        for eo in eos:
            e, od = eo.real, eo.imag
            energy += e * mean_e + od * mean_o - np.abs(e * mean_o - od * mean_e)
        median_e2n = np.median(np.abs(eos[0]) ** 2)
        noise_power = (-median_e2n / np.log(0.5)) / em_n
        est_an2 = sum(f ** 2 for f in iffts)
        est_aiaj = sum(iffts[a] * iffts[b] for a in range(nscale) for b in range(a + 1, nscale))
        est2 = 2 * noise_power * np.sum(est_an2) + 4 * noise_power * np.sum(est_aiaj)
        tau = np.sqrt(est2 / 2)
        t = (tau * np.sqrt(np.pi / 2) + k * np.sqrt((2 - np.pi / 2) * tau ** 2)) / 1.7
        energy_all += np.maximum(energy - t, 0)
        an_all += sum_an
    return energy_all / an_all


def fsim(a, b):
    """a, b: (h, w) grey or (h, w, 3) RGB as float64. Returns (FSIM, FSIMc)."""
    if a.ndim == 3:
        def yiq(im):
            r, g, bb = im[..., 0], im[..., 1], im[..., 2]
            return (0.299 * r + 0.587 * g + 0.114 * bb, 0.596 * r - 0.274 * g - 0.322 * bb,
                    0.211 * r - 0.523 * g + 0.312 * bb)
        pa, pb = yiq(a), yiq(b)
    else:
        pa, pb = (a,), (b,)
    rows, cols = pa[0].shape
    F = max(1, int(np.floor(min(rows, cols) / 256 + 0.5)))
    box = np.ones((F, F)) / (F * F)
    pa = [conv2_same(p, box)[::F, ::F] for p in pa]
    pb = [conv2_same(p, box)[::F, ::F] for p in pb]
    pc1, pc2 = phasecong(pa[0]), phasecong(pb[0])
    dx = np.array([[3, 0, -3], [10, 0, -10], [3, 0, -3]]) / 16.0
    dy = dx.T
    g1 = np.sqrt(conv2_same(pa[0], dx) ** 2 + conv2_same(pa[0], dy) ** 2)
    g2 = np.sqrt(conv2_same(pb[0], dx) ** 2 + conv2_same(pb[0], dy) ** 2)
    spc = (2 * pc1 * pc2 + 0.85) / (pc1 ** 2 + pc2 ** 2 + 0.85)
    sg = (2 * g1 * g2 + 160) / (g1 ** 2 + g2 ** 2 + 160)
    pcm = np.maximum(pc1, pc2)
    f = np.sum(spc * sg * pcm) / np.sum(pcm)
    if len(pa) == 1:
        return f, f
    si = (2 * pa[1] * pb[1] + 200) / (pa[1] ** 2 + pb[1] ** 2 + 200)
    sq = (2 * pa[2] * pb[2] + 200) / (pa[2] ** 2 + pb[2] ** 2 + 200)
    c = np.real(np.power((si * sq).astype(np.complex128), 0.03))
    return f, np.sum(spc * sg * c * pcm) / np.sum(pcm)


def ssim(a, b):
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5 ** 2))
    win = np.outer(g, g)
    win /= win.sum()
    from numpy.lib.stride_tricks import sliding_window_view as swv

    def filt(x):
        return np.einsum("ijkl,kl->ij", swv(x, (11, 11)), win)
    mu1, mu2 = filt(a), filt(b)
    s11, s22, s12 = filt(a * a) - mu1 ** 2, filt(b * b) - mu2 ** 2, filt(a * b) - mu1 * mu2
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    m = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1 ** 2 + mu2 ** 2 + c1) * (s11 + s22 + c2))
    return m.mean()


def psnr(a, b):
    mse = np.mean((a - b) ** 2)
    return 100.0 if mse == 0 else 20 * np.log10(255 / np.sqrt(mse))


def entropy(g):
    p = np.bincount(g.ravel(), minlength=256) / g.size
    p = p[p > 0]
    return float(-np.sum(p * np.log2(p)))


try:
    from skimage.metrics import structural_similarity
except ImportError:
    structural_similarity = None


def grey_of(x):
    return np.asarray(Image.fromarray(x, "RGB").convert("L")) if x.ndim == 3 else x


def picture(w, h, c):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    a = np.zeros((h, w, c))
    for ch in range(c):
        a[..., ch] = 120 + 60 * np.sin(x / rng.uniform(5, 30) + ch) * np.cos(y / rng.uniform(5, 30))
        a[..., ch] += 50 * ((x - w / 2) ** 2 + (y - h / 3) ** 2 < (min(w, h) / 4) ** 2)
        a[..., ch] += rng.normal(0, 4, (h, w))
    a = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    return a[..., 0] if c == 1 else a


def noisy(a, sigma):
    return np.clip(np.rint(a + rng.normal(0, sigma, a.shape)), 0, 255).astype(np.uint8)


def pair(name, a, b):
    h, w = a.shape[:2]
    c = 3 if a.ndim == 3 else 1
    put(name + "_a.in", a)
    put(name + "_b.in", b)
    ga, gb = grey_of(a).astype(np.float64), grey_of(b).astype(np.float64)
    f, _ = fsim(ga, gb)
    fc = fsim(a.astype(np.float64), b.astype(np.float64))[1] if c == 3 else f
    sk = float("nan")
    if structural_similarity is not None:
        sk = structural_similarity(grey_of(a), grey_of(b), gaussian_weights=True, sigma=1.5,
                                   use_sample_covariance=False, data_range=255)
    man.append("pair %s %d %d %d %r %r %r %r %r %r %r" % (name, w, h, c, psnr(ga, gb), ssim(ga, gb), f, fc,
                                                        entropy(grey_of(a)), entropy(grey_of(b)), sk))


def main():
    os.makedirs(OUT, exist_ok=True)
    base = picture(64, 64, 1)
    pair("small", base, noisy(base, 6))
    a = picture(101, 77, 1)
    pair("odd", a, noisy(a, 3))
    a = picture(90, 80, 1)
    pair("same", a, a.copy())
    base = picture(128, 120, 1)
    for s in (2, 5, 10, 20):
        pair("noise%d" % s, base, noisy(base, s))
    a = picture(600, 520, 1)
    pair("big", a, noisy(a, 8))  # F = round(520/256) = 2
    a = picture(389, 521, 1)
    pair("oddF2", a, noisy(a, 8))  # F = 2, 195x261 after downsampling
    a = picture(96, 72, 3)
    b = noisy(a, 5)
    b[..., 0] = np.clip(b[..., 0].astype(int) + 30, 0, 255)  # a colour shift that grey hardly sees
    pair("rgb", a, b)
    a = picture(300, 260, 3)
    pair("rgbbig", a, noisy(a, 10))
    a = picture(70, 66, 3)
    pair("rgbsame", a, a.copy())

    im = picture(45, 37, 1).astype(np.float64)
    put("pc_odd.in", im)
    put("pc_odd.out", phasecong(im))
    man.append("pc pc_odd 45 37")
    im = picture(64, 48, 1).astype(np.float64)
    put("pc_even.in", im)
    put("pc_even.out", phasecong(im))
    man.append("pc pc_even 64 48")

    for n in (1, 2, 3, 5, 7, 8, 12, 97, 128, 130, 260, 300, 521):
        z = rng.normal(size=n) + 1j * rng.normal(size=n)
        put("fft_%d.in" % n, z.astype(np.complex128))
        put("fft_%d.out" % n, np.fft.fft(z).astype(np.complex128))
        man.append("fft %d" % n)

    v = rng.normal(3, 2, 37)
    put("meanstd.in", v)
    man.append("meanstd 37 %r %r" % (float(np.mean(v)), float(np.std(v))))

    with open(os.path.join(OUT, "manifest.txt"), "w") as f:
        f.write("\n".join(man) + "\n")


if __name__ == "__main__":
    main()
