"""Reference values of the GuacaMol objectives, from the GuacaMol package itself, for the tests.

Run in a separate environment that has ``guacamol`` (``pip install --no-deps guacamol rdkit numpy
scipy tqdm``; it is not a molgym dependency: it pins an old RDKit and its ``utils.chemistry``
imports ``scipy.histogram``, which current SciPy lacks, so this script supplies it):

    python scripts/guacamol_reference.py > tests/rewards/guacamol_reference.csv

Molecules: the objectives' own targets, molecules that exercise every term (fluorines, P, Cl,
the hop SMARTS, aromatic and aliphatic rings) and the first 60 molecules of the MOSES test set.
Columns: task, SMILES, value (repr, full precision), and the RDKit version that computed it.
"""

from __future__ import annotations

import csv
import gzip
import sys
import types
from pathlib import Path

import numpy
import scipy

scipy.histogram = numpy.histogram  # guacamol.utils.chemistry imports it; only its distribution metrics use it
sys.modules.setdefault("fcd", types.ModuleType("fcd"))  # imported by the distribution benchmarks only

import rdkit  # noqa: E402
from guacamol import standard_benchmarks as sb  # noqa: E402

BENCHMARKS = {
    "qed": sb.qed_benchmark,
    "celecoxib_rediscovery": lambda: sb.similarity(
        "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F", "Celecoxib", "ECFP4", 1.0, True
    ),
    "troglitazone_rediscovery": lambda: sb.similarity(
        "Cc1c(C)c2OC(C)(COc3ccc(CC4SC(=O)NC4=O)cc3)CCc2c(C)c1O", "Troglitazone", "ECFP4", 1.0, True
    ),
    "thiothixene_rediscovery": lambda: sb.similarity(
        "CN(C)S(=O)(=O)c1ccc2Sc3ccccc3C(=CCCN4CCN(C)CC4)c2c1", "Thiothixene", "ECFP4", 1.0, True
    ),
    "albuterol_similarity": lambda: sb.similarity("CC(C)(C)NCC(O)c1ccc(O)c(CO)c1", "Albuterol", "FCFP4", 0.75),
    "mestranol_similarity": lambda: sb.similarity(
        "COc1ccc2[C@H]3CC[C@@]4(C)[C@@H](CC[C@@]4(O)C#C)[C@@H]3CCc2c1", "Mestranol", "AP", 0.75
    ),
    "isomers_c7h8n2o2": sb.isomers_c7h8n2o2,
    "isomers_c9h10n2o2pf2cl": sb.isomers_c9h10n2o2pf2cl,
    "median1": sb.median_camphor_menthol,
    "median2": sb.median_tadalafil_sildenafil,
    "osimertinib_mpo": sb.hard_osimertinib,
    "fexofenadine_mpo": sb.hard_fexofenadine,
    "ranolazine_mpo": sb.ranolazine_mpo,
    "perindopril_mpo": sb.perindopril_rings,
    "amlodipine_mpo": sb.amlodipine_rings,
    "sitagliptin_mpo": sb.sitagliptin_replacement,
    "zaleplon_mpo": sb.zaleplon_with_other_formula,
    "valsartan_smarts": sb.valsartan_smarts,
    "deco_hop": sb.decoration_hop,
    "scaffold_hop": sb.scaffold_hop,
}

EXTRA = [
    "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F",  # celecoxib
    "Cc1c(C)c2OC(C)(COc3ccc(CC4SC(=O)NC4=O)cc3)CCc2c(C)c1O",  # troglitazone
    "CN(C)S(=O)(=O)c1ccc2Sc3ccccc3C(=CCCN4CCN(C)CC4)c2c1",  # thiothixene
    "CC(C)(C)NCC(O)c1ccc(O)c(CO)c1",  # albuterol
    "COc1ccc2C3CCC4(C)C(CCC4(O)C#C)C3CCc2c1",  # mestranol without stereo
    "Nc1ccccc1C(=O)NO",  # C7H8N2O2
    "NC(=O)c1ccc(N)cc1O",  # C7H8N2O2
    "O=P(Cl)(F)c1cc(F)c(N)c(C(=O)NCC)c1O",  # near C9H10N2O2PF2Cl
    "CC1(C)C2CCC1(C)C(=O)C2",  # camphor
    "CC(C)C1CCC(C)CC1O",  # menthol
    "COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc2nccc(n2)c3cn(C)c4ccccc34",  # osimertinib
    "CC(C)(C(=O)O)c1ccc(cc1)C(O)CCCN2CCC(CC2)C(O)(c3ccccc3)c4ccccc4",  # fexofenadine
    "COc1ccccc1OCC(O)CN2CCN(CC(=O)Nc3c(C)cccc3C)CC2",  # ranolazine
    "O=C(OCC)C(NC(C(=O)N1C(C(=O)O)CC2CCCCC12)C)CCC",  # perindopril
    "Clc1ccccc1C2C(=C(NC(=C2C(=O)OCC)COCCN)C)C(=O)OC",  # amlodipine without stereo bonds
    "Fc1cc(c(F)cc1F)CC(N)CC(=O)N3Cc2nnc(n2CC3)C(F)(F)F",  # sitagliptin
    "O=C(C)N(CC)C1=CC=CC(C2=CC=NC3=C(C=NN23)C#N)=C1",  # zaleplon
    "CCCCC(=O)N(Cc1ccc(-c2ccccc2-c2nn[nH]n2)cc1)C(C(C)C)C(=O)O",  # valsartan
    "CCCOc1cc2ncnc(Nc3ccc4ncsc4c3)c2cc1S(=O)(=O)C(C)(C)C",  # the hop start
    "CCCOc1cc2ncnc(Nc3ccc4ncsc4c3)c2cc1O",  # deco hop direction
    "CCCOc1ccc(Nc2ccc3ncsc3c2)cc1C",  # scaffold hop direction
    "c1ccc2c(c1)ccc1ccccc12",
    "C",
    "CCO",
    "FC(F)(F)F",
    "OP(=O)(O)O",
    "c1ccncc1",
    "C1CCC2CCCCC2C1",
]


def main() -> None:
    moses = Path(__file__).resolve().parents[2] / "shared" / "data" / "moses_test.csv.gz"
    with gzip.open(moses, "rt") as f:
        rows = list(csv.reader(f))
    molecules = EXTRA + [r[0] for r in rows[1:61]]
    writer = csv.writer(sys.stdout)
    writer.writerow(["task", "smiles", "value", "rdkit"])
    for task, make in BENCHMARKS.items():
        objective = make().objective
        for smiles in molecules:
            writer.writerow([task, smiles, repr(float(objective.score(smiles))), rdkit.__version__])


if __name__ == "__main__":
    main()
