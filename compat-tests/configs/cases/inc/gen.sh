echo 'var.gen = "from shell"'
echo '$HTTP["url"] =^ "/gen" { var.g = 1 }'
