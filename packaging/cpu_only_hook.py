"""PyInstaller runtime hook for bundles built from a CUDA torch: hide the GPUs, so the model runs on the CPU.

`lookalike.spec` leaves cuDNN's engines, cuSOLVER and torch's CUDA linear algebra out of such a
bundle (~1.1 GB that only GPU work loads). With a GPU visible, torch would pick CUDA and then fail
on the first convolution, when cuDNN cannot load its engines; with none visible it uses the CPU.
"""

import os

os.environ["CUDA_VISIBLE_DEVICES"] = ""
