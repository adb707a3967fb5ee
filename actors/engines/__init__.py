"""Small adapters around engines; heavy libraries are imported lazily inside them."""
