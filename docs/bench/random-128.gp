set terminal pngcairo noenhanced size 900,600 font 'sans,11'
set output 'docs/bench/random-128.png'
set title 'random-128 (100000 x 128): recall@10 vs queries per second, 1 thread, k = 10'
set xlabel 'recall@10'
set ylabel 'queries per second (1 thread)'
set logscale y
set grid
set key bottom left
plot '-' with linespoints pt 7 title 'hnswlib', '-' with linespoints pt 7 title 'hnswstore-hnsw', '-' with points pt 7 ps 1.5 title 'hnswstore-flat'
0.09080 11864.1
0.13330 8126.5
0.17760 5669.0
0.20770 4362.5
0.29100 3170.6
0.33870 2497.5
0.43800 1926.3
0.53230 1507.6
0.60450 1142.0
0.70210 811.8
e
0.08830 12201.5
0.13040 8230.6
0.17640 6567.6
0.21050 4844.7
0.29070 3222.1
0.33980 2757.8
0.43310 1943.5
0.53130 1453.6
0.60530 1159.2
0.70060 721.0
e
1.00000 285.2
e
