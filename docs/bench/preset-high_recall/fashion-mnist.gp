set terminal pngcairo noenhanced size 900,600 font 'sans,11'
set output 'docs/bench/preset-high_recall/fashion-mnist.png'
set title 'fashion-mnist (60000 x 784): recall@10 vs queries per second, 1 thread, k = 10'
set xlabel 'recall@10'
set ylabel 'queries per second (1 thread)'
set logscale y
set grid
set key bottom left
plot '-' with linespoints pt 7 title 'hnswstore-hnsw'
0.95450 7679.4
0.97930 6217.5
0.99470 3737.0
0.99790 2493.0
0.99910 1631.4
0.99940 1228.6
e
