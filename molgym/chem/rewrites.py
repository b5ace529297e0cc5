"""States that RDKit's sanitization would rewrite, and the edits that would create them.

Before checking valences, RDKit's ``SanitizeMol`` runs ``MolOps::cleanUp``, which turns some
valence-legal kekulé patterns into charge-separated forms. Such a state is not kept as it is:
either the rewritten form breaks valence (``OI=[O+]C`` becomes ``O[I+][O-]C``, an O- with two
bonds) or the molecule silently changes into one with other atom types. The environment
therefore treats these patterns as illegal, so that every reachable state sanitizes *unchanged*.
With RDKit's valence limits, two rules of ``cleanUp`` can fire on a valence-legal state:

* halogen: a neutral Cl/Br/I with explicit valence 3, 5 or 7, every neighbour an oxygen and at
  least one double bond (each ``X=O`` becomes ``[X+]-[O-]``). The valence that counts is the
  total one, hydrogens included: a state whose iodine has bond valence 2 sanitizes as it is, but
  its SMILES writes that iodine as ``[IH]``, whose hydrogen is explicit when parsed back, and the
  rule then fires. Every state must round-trip through its SMILES, so the rule uses total valence;
* phosphorus: a neutral P with valence 5 and degree 3, a double bond to a neutral O and a double
  bond to a C or N of degree >= 2 (``C=P(=O)X`` becomes ``C=[P+]([O-])X``).

(The nitrogen rule needs a neutral N of valence 5, which RDKit's limits already exclude.)
"""

from __future__ import annotations

import numpy as np

from molgym.chem.vocab import AtomVocab, rdkit_total_valence

__all__ = ["TypeFlags"]

_ODD = np.array([3, 5, 7])


class TypeFlags:
    """Per-type booleans the rules need, cached on the vocabulary."""

    def __init__(self, vocab: AtomVocab):
        z, q = vocab.atomic_numbers, vocab.charges
        self.halogen = np.isin(z, (17, 35, 53)) & (q == 0) & (vocab.max_valence >= 3)
        self.phosphorus = (z == 15) & (q == 0) & (vocab.max_valence >= 5)
        self.oxygen = z == 8
        self.neutral_oxygen = (z == 8) & (q == 0)
        self.carbon_or_nitrogen = np.isin(z, (6, 7))
        self.sensitive = self.halogen | self.phosphorus
        self.any = bool(self.sensitive.any())
        # total_valence[t, v]: valence with implicit hydrogens of a type-t atom of bond valence v
        # (0 past the type's limit); as RDKit computes it.
        width = int(vocab.max_valence.max()) + 4
        self.total_valence = np.zeros((len(vocab), width), dtype=np.int64)
        for i, (symbol, charge) in enumerate(vocab.types):
            for v in range(int(vocab.max_valence[i]) + 1):
                self.total_valence[i, v] = rdkit_total_valence(symbol, charge, v)
        self.odd_total = np.isin(self.total_valence, _ODD)
        #: halogen types that a double bond alone gives an odd total valence (3 for iodine)
        self.new_halogen_double = np.flatnonzero(self.halogen & self.odd_total[:, 2]).tolist()

    @staticmethod
    def of(vocab: AtomVocab) -> TypeFlags:
        flags = vocab.__dict__.get("_rewrite_flags")
        if flags is None:
            flags = vocab.__dict__["_rewrite_flags"] = TypeFlags(vocab)
        return flags
