/* fft.h — complex FFTs of any length in double (src/imaging/fft.c), for FSIM's phase
 * congruency. Not installed; tests include it as "imaging/fft.h".
 *
 * Lengths that are powers of two use an iterative radix-2 transform; any other length n uses
 * Bluestein's chirp-z algorithm (a circular convolution of length m ≥ 2n − 1, m a power of two).
 * Conventions are numpy's: forward X_k = Σ_j x_j·e^(−2πi·jk/n), inverse x_j = (1/n)·Σ_k X_k·e^(+2πi·jk/n).
 * Data are separate real and imaginary arrays. */
#ifndef MC_IMAGING_FFT_H
#define MC_IMAGING_FFT_H

typedef struct mc_fft mc_fft;
int mc_fft_new(mc_fft **out, int n);
void mc_fft_free(mc_fft *p);
/* In place on re[n], im[n]; inverse = 1 divides by n. Thread-unsafe per plan (scratch inside). */
void mc_fft_run(mc_fft *p, double *re, double *im, int inverse);
/* 2-D transform of [h][w] arrays: rows with pw (length w), columns with ph (length h). */
int mc_fft2(mc_fft *pw, mc_fft *ph, double *re, double *im, int w, int h, int inverse);

#endif
