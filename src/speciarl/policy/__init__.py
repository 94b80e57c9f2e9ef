"""The policy: building a tiny local vision-language model, and loading real ones."""
