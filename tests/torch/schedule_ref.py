#!/usr/bin/python3
"""References for tests/test_schedule.c, printed as lines the test parses:
  onecycle TOTAL MAXLR step lr momentum       PyTorch's OneCycleLR (cos, pct 0.3, div 25, final 1e4,
                                              momentum 0.85..0.95) as applied to an SGD optimizer
  lrfind N i lr                               fastai v1 lr_find: 1e-7 * (10/1e-7)**(i/N)
  suggest N SKIP0 SKIP1 index                 numpy.gradient(smoothed[SKIP0:-SKIP1]).argmin() + SKIP0
                                              for the synthetic loss curve below
"""
import math
import numpy as np
import torch

for total, max_lr in [(100, 2e-3), (37, 2e-2), (1000, 1e-3), (10, 0.1)]:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=max_lr, momentum=0.9)
    s = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=total, pct_start=0.3,
                                            anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85,
                                            max_momentum=0.95, div_factor=25.0, final_div_factor=1e4)
    for step in range(total):
        g = opt.param_groups[0]
        print(f"onecycle {total} {max_lr!r} {step} {g['lr']!r} {g['momentum']!r}")
        opt.step()
        if step < total - 1:
            s.step()

N = 100
for i in range(N):
    print(f"lrfind {N} {i} {1e-7 * (10 / 1e-7) ** (i / N)!r}")

# a synthetic LR-finder curve: flat, then falling, then exploding, with wiggles
lrs = [1e-7 * (10 / 1e-7) ** (i / N) for i in range(N)]
raw = [1.0 - 0.6 / (1 + math.exp(-(math.log10(lr) + 3.0) * 2.5)) + 0.02 * math.sin(i * 1.7)
       + (0.0 if lr < 0.3 else (lr - 0.3) * 3) for i, lr in enumerate(lrs)]
avg, smooth = 0.0, []
for i, l in enumerate(raw):
    avg = 0.98 * avg + 0.02 * l
    smooth.append(avg / (1 - 0.98 ** (i + 1)))
for i, (l, sm) in enumerate(zip(raw, smooth)):
    print(f"curve {i} {lrs[i]!r} {l!r} {sm!r}")
g = np.gradient(np.array(smooth[10:-5]))
print(f"suggest {N} 10 5 {int(g.argmin()) + 10}")
