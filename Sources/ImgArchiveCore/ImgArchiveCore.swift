// placeholder until the scanner lands
