"""mpiexec -n N python keras_backup.py OUT: Keras fit with BackupAndRestore under DataParallel.
A first fit of 2 epochs keeps its backup (delete_checkpoint=False); a second fit of 4 epochs
resumes from it on every rank (rank 0 alone wrote it) and runs epochs 2 and 3. Each rank
prints the epochs it ran and a digest of its weights."""

import hashlib
import os
import sys

import numpy as np

from chainrule import keras

out = sys.argv[1]
keras.distribution.set_distribution(keras.distribution.DataParallel())
rank = keras.distribution.distribution().data_shard_id
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 5)).astype("float32")
y = x @ np.arange(5, dtype="float32").reshape(5, 1)
model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="tanh"),
                          keras.layers.Dense(1)])
model.compile(keras.optimizers.Adam(0.01), "mse")
backup = os.path.join(out, "backup")
model.fit(x, y, batch_size=16, epochs=2, verbose=0,
          callbacks=[keras.callbacks.BackupAndRestore(backup, delete_checkpoint=False)])
files = sorted(os.listdir(backup)) if rank == 0 else "-"  # rank 0 wrote it
history = model.fit(x, y, batch_size=16, epochs=4, verbose=0,
                    callbacks=[keras.callbacks.BackupAndRestore(backup)])
digest = hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights())).hexdigest()[:16]
print(f"rank {rank} files {files} epochs {history.epoch} digest {digest}")
