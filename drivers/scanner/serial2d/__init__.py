"""A serial 2D barcode scanner (its common serial mode, Honeywell host commands): protocol
(pure), entry (its registry entry), driver, simulator.  Import the submodules you need; this
package imports nothing by itself."""
