/* replaced by scripts/generate-proto */
