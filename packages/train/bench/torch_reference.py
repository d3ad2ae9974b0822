"""PyTorch reference for the training benchmark: samples/s of one training step (forward, backward,
AdamW update) for the MLP and ViT-tiny of bench/run.ts, on random data, one thread unless --threads:
per wall-clock second, and per second of this process's CPU time (`*_cpu`, robust to other load on
the machine; with one thread the two agree on an idle machine). Run it with OPENBLAS_NUM_THREADS set
to --threads: torch.set_num_threads does not limit OpenBLAS's own thread pool. Prints one JSON line.
Optional: the bench runs it only when /usr/bin/python3 imports torch."""
import argparse, json, time
import torch
import torch.nn as nn

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=1)
p.add_argument("--steps", type=int, default=30)
p.add_argument("--mlp-steps", type=int, default=0, help="steps of the MLP (default 5 × --steps: its steps are short)")
p.add_argument("--warmup", type=int, default=5)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)

def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.LayerNorm(256), nn.ReLU(),
                         nn.Linear(256, 256), nn.LayerNorm(256), nn.ReLU(), nn.Linear(256, 10))

class Block(nn.Module):
    def __init__(s, d, h, m):
        super().__init__()
        s.n1, s.n2 = nn.LayerNorm(d), nn.LayerNorm(d)
        s.attn = nn.MultiheadAttention(d, h, batch_first=True)
        s.mlp = nn.Sequential(nn.Linear(d, m), nn.GELU(), nn.Linear(m, d))
    def forward(s, x):
        y = s.n1(x)
        x = x + s.attn(y, y, y, need_weights=False)[0]
        return x + s.mlp(s.n2(x))

class ViT(nn.Module):
    def __init__(s, d=64, depth=4, heads=4, mlp=128, patch=4):
        super().__init__()
        n = (28 // patch) ** 2
        s.embed = nn.Conv2d(1, d, patch, patch)
        s.cls = nn.Parameter(torch.zeros(1, 1, d))
        s.pos = nn.Parameter(torch.zeros(1, n + 1, d))
        s.blocks = nn.Sequential(*[Block(d, heads, mlp) for _ in range(depth)])
        s.norm = nn.LayerNorm(d)
        s.head = nn.Linear(d, 10)
    def forward(s, x):
        x = s.embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([s.cls.expand(x.shape[0], -1, -1), x], 1) + s.pos
        return s.head(s.norm(s.blocks(x))[:, 0])

def rate(model, batch, steps):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))
    loss_fn = nn.CrossEntropyLoss()
    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    for _ in range(a.warmup):
        step()
    t, c = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - t), batch * steps / (time.process_time() - c)

m, v = rate(mlp(), 128, a.mlp_steps or 5 * a.steps), rate(ViT(), 64, a.steps)
print(json.dumps({"torch": torch.__version__, "threads": a.threads,
                  "mlp": m[0], "mlp_cpu": m[1], "vit": v[0], "vit_cpu": v[1]}))
