"""The lesson kit: what the notebooks and the classroom app use on top of the library.

Not the library: nothing in ``effnet_lab`` imports it, and it may change with the lessons.

- ``setup``: the one call every lesson starts with (seed, device, data folder, quick mode);
- ``states``: what the explorers show, as plain numbers and tables (no matplotlib, no ipywidgets);
- ``tables``: tables of the committed sweep results (lessons 05 and 06);
- ``style``, ``figures``, ``dashboards`` (the explorers' figures, moved in place), ``result_figures``,
  ``objective_figures`` (lesson 07's NAS objective): matplotlib figures that read state and tables only;
- ``explorers``: ipywidgets controls around state and figures;
- ``exercises``: the answer checkers; ``questions``: the predict and explain questions;
  ``proxy_search``: lesson 07's random search with a training proxy.
"""
