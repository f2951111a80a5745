"""Products from the shop's own order lines: which lines are one product, what sells, what
sells together (co-purchase), how soon it is bought again, the shop's own pairs
(``products.yaml``), recommendations for a customer and who is due to buy again."""
