// placeholder until the end-to-end suite lands
