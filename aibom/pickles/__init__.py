"""Static analysis of pickle streams: a simulated pickle machine and the load-safety policy over it."""
