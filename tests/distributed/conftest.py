"""The helpers that launch mpiexec jobs live in mpi_jobs.py: a module named `conftest` would be
shadowed by tests/cli/conftest.py when both folders run in one pytest session."""
