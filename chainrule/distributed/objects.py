"""The object collectives of torch.distributed: all_gather_object, gather_object,
broadcast_object_list, scatter_object_list. They carry any picklable Python objects (MPI's
pickle-based lowercase calls); tensors are better sent with the tensor collectives, which use the
buffer interface. As in PyTorch, an object from another rank is unpickled here: only use them
with ranks you trust. `src` / `dst` are global ranks (group_src / group_dst: ranks in group).
"""

from __future__ import annotations

from typing import Any

from chainrule.distributed.collectives import _root
from chainrule.distributed.process_group import _member_group


def all_gather_object(object_list: list, obj: Any, group: Any = None) -> None:
    """object_list[i] <- group rank i's obj, on every rank (object_list holds world_size
    items, overwritten)."""
    g = _member_group(group, "all_gather_object")
    if g is None:
        return
    if len(object_list) < g.size:
        raise IndexError(f"all_gather_object: object_list must have one slot per rank of the "
                         f"group (length {g.size}, got {len(object_list)}): pass "
                         f"[None] * {g.size}")
    for i, value in enumerate(g.comm.allgather(obj)):
        object_list[i] = value


def gather_object(obj: Any, object_gather_list: list | None = None, dst: int | None = None,
                  group: Any = None, group_dst: int | None = None) -> None:
    """object_gather_list[i] <- group rank i's obj, on rank dst (global; 0 by default) alone,
    where the list (world_size slots) must be given; None elsewhere."""
    g = _member_group(group, "gather_object")
    if g is None:
        return
    root = _root(g, group, dst, group_dst, "gather_object", "dst", default=0)
    if root == g.rank:
        if not object_gather_list:
            raise ValueError("Argument ``gather_list`` must be specified on destination rank.")
        if len(object_gather_list) < g.size:
            raise IndexError(f"gather_object: object_gather_list must have {g.size} slots, "
                             f"got {len(object_gather_list)}")
    elif object_gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination "
                         "ranks.")
    got = g.comm.gather(obj, root=root)
    if root == g.rank:
        for i, value in enumerate(got):
            object_gather_list[i] = value


def broadcast_object_list(object_list: list, src: int | None = None, group: Any = None,
                          device: Any = None, group_src: int | None = None) -> None:
    """object_list <- rank src's object_list (global rank; 0 by default), item by item, in
    place on every rank; every rank passes a list of the same length."""
    g = _member_group(group, "broadcast_object_list")
    if g is None:
        return
    root = _root(g, group, src, group_src, "broadcast_object_list", "src", default=0)
    values = g.comm.bcast(list(object_list) if root == g.rank else None, root=root)
    if root != g.rank:
        if len(values) != len(object_list):
            raise RuntimeError(f"broadcast_object_list: rank {src if src is not None else root}"
                               f" sent {len(values)} objects but this rank's object_list has "
                               f"{len(object_list)} slots; pass lists of the same length")
        object_list[:] = values


def scatter_object_list(scatter_object_output_list: list,
                        scatter_object_input_list: list | None = None, src: int | None = None,
                        group: Any = None, group_src: int | None = None) -> None:
    """scatter_object_output_list[0] <- scatter_object_input_list[i] on group rank i, the input
    list (world_size items) given on rank src (global; 0 by default)."""
    if not isinstance(scatter_object_output_list, list) or not scatter_object_output_list:
        raise ValueError("Expected argument scatter_object_output_list to be a list of size at "
                         "least 1.")
    g = _member_group(group, "scatter_object_list")
    if g is None:
        return
    root = _root(g, group, src, group_src, "scatter_object_list", "src", default=0)
    items = None
    if root == g.rank:
        items = list(scatter_object_input_list or [])
        if len(items) != g.size:
            raise ValueError(f"scatter_object_list: scatter_object_input_list must hold one "
                             f"object per rank of the group ({g.size}), got {len(items)}")
    scatter_object_output_list[0] = g.comm.scatter(items, root=root)
