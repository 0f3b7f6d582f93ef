// The object that carries tests/pch.h for every test executable to reuse.
