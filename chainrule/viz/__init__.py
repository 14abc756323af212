"""Seeing backprop: the graph with values and gradients, a backward pass narrated, optimizers on
cost surfaces, gradient health while training, the learning-rate range test, saliency; and
pictures of training (plots.py: curves, decision boundaries).

Everything that returns data works with NumPy alone; pictures need matplotlib, imported only when
one is drawn (pip install "chainrule[viz]"); rendering a graph to svg/png/pdf needs Graphviz's
`dot` program.
"""

from chainrule.viz.descent import DescentResult, SweepResult, Trajectory, descent, lr_sweep
from chainrule.viz.explain import Explanation, explain
from chainrule.viz.graph import GraphvizNotFound, graph, render_dot
from chainrule.viz.lr_find import LRFinderResult, lr_find
from chainrule.viz.modules import model_graph
from chainrule.viz.monitor import GradientMonitor, GradientWarning
from chainrule.viz.saliency import plot_saliency, saliency
from chainrule.viz.surfaces import Surface, surface

__all__ = [
    "DescentResult", "Explanation", "GradientMonitor", "GradientWarning", "GraphvizNotFound",
    "LRFinderResult", "Surface", "SweepResult", "Trajectory", "descent", "explain", "graph",
    "lr_find", "lr_sweep", "model_graph", "plot_saliency", "render_dot", "saliency", "surface",
]
