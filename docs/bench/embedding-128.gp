set terminal pngcairo noenhanced size 900,600 font 'sans,11'
set output 'docs/bench/embedding-128.png'
set title 'embedding-128 (100000 x 128): recall@10 vs queries per second, 1 thread, k = 10'
set xlabel 'recall@10'
set ylabel 'queries per second (1 thread)'
set logscale y
set grid
set key bottom left
plot '-' with linespoints pt 7 title 'hnswlib', '-' with linespoints pt 7 title 'hnswstore-hnsw', '-' with points pt 7 ps 1.5 title 'hnswstore-flat'
0.46330 20572.5
0.57980 15111.0
0.68460 11127.6
0.74340 7697.3
0.85670 4673.2
0.89740 4048.6
0.95310 2378.3
0.98080 2130.2
0.99110 1527.7
0.99680 1136.0
e
0.46520 16219.4
0.58590 10852.4
0.68500 8757.1
0.74090 5307.2
0.85380 4527.4
0.89710 4461.8
0.95290 2848.5
0.98110 1880.6
0.99140 1315.3
0.99690 951.5
e
1.00000 183.6
e
