set terminal pngcairo noenhanced size 900,600 font 'sans,11'
set output 'docs/bench/preset-fast/fashion-mnist.png'
set title 'fashion-mnist (60000 x 784): recall@10 vs queries per second, 1 thread, k = 10'
set xlabel 'recall@10'
set ylabel 'queries per second (1 thread)'
set logscale y
set grid
set key bottom left
plot '-' with linespoints pt 7 title 'hnswstore-hnsw'
0.87340 12406.8
0.93490 9373.2
0.97590 6546.3
0.98730 5251.3
0.99600 3067.3
0.99770 2091.1
e
