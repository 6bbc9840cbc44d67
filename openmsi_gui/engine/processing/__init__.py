"""What happens after a file arrives: processors, their results, and the stage that runs them."""
