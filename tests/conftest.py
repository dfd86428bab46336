import os
import warnings

import pytest

# Reference facts from the paper, torchvision and ptflops (see REFERENCE.md in the project notes):
# params, conv+linear MACs (= ptflops aten), ptflops pytorch-backend MACs, at native resolution.
REFERENCE = {
    "b0": (5_288_548, 385_825_092, 410_196_896),
    "b1": (7_794_184, 686_817_992, 726_705_368),
    "b2": (9_109_994, 993_578_282, 1_044_413_452),
    "b3": (12_233_232, 1_827_162_472, 1_914_414_728),
    "b4": (19_341_616, 4_393_801_064, 4_577_005_104),
    "b5": (30_389_784, 10_266_426_072, 10_634_854_184),
    "b6": (43_040_704, 19_067_647_136, 19_691_902_448),
    "b7": (66_347_960, 37_745_958_392, 38_832_701_672),
}


@pytest.fixture(autouse=True)
def _quiet_known_warnings():
    # ptflops and torchvision warn about things that do not concern these tests
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="ptflops")
        yield


@pytest.fixture(scope="session")
def torch():
    import torch

    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    return torch
