"""A Keras script as users write it, run alone or under mpiexec: the same MLP fit for 3 epochs
on the same data (shuffled, batches that do not split evenly, validation data), then evaluate.
Each rank writes its weights, History and evaluation to OUT/result_<rank or 'single'>.npz;
a CSVLogger subclass records which ranks wrote (only rank 0 may).

    python keras_fit.py OUT single | mpiexec -n 2 python keras_fit.py OUT mpi [sgd|adam] [skew]

skew: each rank seeds its generator differently (rank 0 as the single run): the initial
weights and the shuffles must still come from rank 0. bn: a BatchNormalization layer (each rank
normalizes with its slice's statistics; the moving ones are rank 0's, as DDP's buffers).
"""

import json
import os
import sys

import numpy as np

from chainrule import keras
from chainrule.keras import layers

out, mode = sys.argv[1], sys.argv[2]
opt = sys.argv[3] if len(sys.argv) > 3 else "adam"
skew = "skew" in sys.argv[4:]

if mode == "mpi":
    keras.distribution.set_distribution(keras.distribution.DataParallel())
dist = keras.distribution.distribution()
rank = dist.data_shard_id if dist is not None else 0
tag = "single" if mode == "single" else str(rank)
keras.utils.set_random_seed(100 + rank if skew else 0)

rng = np.random.default_rng(0)
x = rng.normal(size=(100, 8)).astype("float32")
y = (x[:, :3].sum(1) > 0).astype("int64") + (x[:, 3] > 0.5)
x_val, y_val = x[:20] * 0.5, y[:20]

bn = [layers.BatchNormalization()] if "bn" in sys.argv[4:] else []
model = keras.Sequential([keras.Input((8,)), layers.Dense(16, activation="relu"), *bn,
                          layers.Dense(3, activation="softmax")])
optimizer = (keras.optimizers.SGD(0.1, momentum=0.9) if opt == "sgd"
             else keras.optimizers.Adam(0.01))
model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])


class Spy(keras.callbacks.CSVLogger):
    def on_epoch_end(self, epoch, logs=None):
        with open(os.path.join(out, f"spy_{tag}.txt"), "a") as f:
            f.write(f"{epoch}\n")
        super().on_epoch_end(epoch, logs)


history = model.fit(x, y, batch_size=30, epochs=3, shuffle=True, verbose=2,
                    validation_data=(x_val, y_val),
                    callbacks=[Spy(os.path.join(out, f"log_{tag}.csv")),
                               keras.callbacks.ModelCheckpoint(
                                   os.path.join(out, f"ckpt_{tag}.weights.h5"),
                                   save_weights_only=True)])
evaluation = model.evaluate(x, y, batch_size=30, verbose=0, return_dict=True)
np.savez(os.path.join(out, f"result_{tag}.npz"), *model.get_weights())
with open(os.path.join(out, f"history_{tag}.json"), "w") as f:
    json.dump({"history": history.history, "evaluate": evaluation}, f)
print(f"rank {tag} done")
