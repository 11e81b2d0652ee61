//! Throwaway local PostgreSQL clusters (placeholder).
