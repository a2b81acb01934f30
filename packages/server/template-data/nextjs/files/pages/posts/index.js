import Head from 'next/head';
import Link from 'next/link';
import styles from '../../styles/Home.module.css';

export const posts = [
  { id: 'first-steps', title: 'First steps' },
  { id: 'working-together', title: 'Working together' },
];

export default function Posts() {
  return (
    <>
      <Head>
        <title>Posts</title>
      </Head>
      <main className={styles.card}>
        <h1 className={styles.title}>Posts</h1>
        <ul className={styles.list}>
          {posts.map((post) => (
            <li key={post.id}>
              <Link href={`/posts/${post.id}`}>{post.title}</Link>
            </li>
          ))}
        </ul>
        <p>
          <Link href="/">Back home</Link>
        </p>
      </main>
    </>
  );
}
