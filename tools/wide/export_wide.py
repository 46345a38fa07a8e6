#!/usr/bin/python3
"""export_wide.py — a wide ResNet for the 1x8x8 digits, defined in PyTorch and
exported to ONNX: the architecture of a bundled task at a realistic size
(over a million trainable weights), for ttpredict to read with --model.

    /usr/bin/python3 tools/wide/export_wide.py OUT.onnx [--classes K] [--seed S]

The network (eval mode, He-initialised from the seed; nothing pretrained):
  conv3x3(1->64) BN ReLU                                        (64, 8, 8)
  BasicBlock(64->64)                                            (64, 8, 8)
  BasicBlock(64->128, stride 2, 1x1 downsample conv + BN)       (128, 4, 4)
  BasicBlock(128->256, stride 2, 1x1 downsample conv + BN)      (256, 2, 2)
  GlobalAveragePool, Flatten, Gemm(256->K)
Every operator is one the ONNX reader maps (README, "Bring your own
network"); BatchNorm stays a layer of its own (TrainingMode.PRESERVE).
Pretraining it on digits 0-4 and giving it a fresh head for 5-9 is then
`ttpredict train --model OUT.onnx --data ... --out-model ...` and
`ttpredict train --new-head 5 --steps 0`, as tools/make_pretrained.sh does
for the small bundled ResNet.
"""
import argparse

import torch
import torch.nn as nn


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1)
        self.bn1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = torch.relu(self.bn1(self.c1(x)))
        h = self.bn2(self.c2(h))
        return torch.relu(h + (x if self.down is None else self.down(x)))


class WideResNet(nn.Module):
    def __init__(self, classes=5, widths=(64, 128, 256)):
        super().__init__()
        self.stem = nn.Conv2d(1, widths[0], 3, padding=1)
        self.bn = nn.BatchNorm2d(widths[0])
        self.blocks = nn.Sequential(BasicBlock(widths[0], widths[0], 1), BasicBlock(widths[0], widths[1], 2),
                                    BasicBlock(widths[1], widths[2], 2))
        self.fc = nn.Linear(widths[2], classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x):
        h = torch.relu(self.bn(self.stem(x)))
        h = self.blocks(h)
        h = nn.functional.adaptive_avg_pool2d(h, 1)
        return self.fc(torch.flatten(h, 1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--classes", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    model = WideResNet(a.classes).double().eval()
    n = sum(p.numel() for p in model.parameters())
    torch.onnx.export(model, torch.zeros(1, 1, 8, 8, dtype=torch.float64), a.out, opset_version=13,
                      training=torch.onnx.TrainingMode.PRESERVE, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
    print(f"export_wide.py: wrote {a.out}: {n} trainable weights, input (1, 8, 8), {a.classes} outputs, float64")


if __name__ == "__main__":
    main()
