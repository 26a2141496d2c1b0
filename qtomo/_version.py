"""qtomo's version, in its own module so that every layer can read it without importing the
package root (whose public API sits on top of all the layers, see ``qtomo/__init__.py``)."""

__version__ = "0.1.0"
