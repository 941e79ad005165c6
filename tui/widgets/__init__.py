"""Widgets shared by the screens: charts, meters, bars and tables."""
